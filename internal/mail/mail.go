// Package mail owns the outgoing-mail port: a Mailer sends plain-text (and
// optionally HTML) messages to one or more recipients. The scale adapter
// speaks SMTP (internal/mail/smtp); the embedded profile's adapter is a dev
// mailbox that stores mail in SQLite instead of sending it and shows it over
// HTTP (internal/mail/devbox).
//
// Every adapter validates a message before doing anything with it (see
// Message.Validate): a message with no recipient, an unparsable address or a
// header injection attempt (CR or LF in the subject or an address) is refused
// with an error wrapping ErrInvalidMessage and is never delivered.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the port's name in probes.
const Component = "mail"

// ErrInvalidMessage is wrapped by the error of Send for a message that cannot
// be sent as given (no recipient, invalid address, header injection).
var ErrInvalidMessage = errors.New("invalid mail message")

// Message is a mail to send.
type Message struct {
	// To are the recipients, each an RFC 5322 address: "ana@example.com" or
	// "Ana <ana@example.com>". At least one is required.
	To []string
	// Subject is the subject line (UTF-8; it may not contain CR or LF).
	Subject string
	// Text is the plain-text body (UTF-8).
	Text string
	// HTML is an optional HTML alternative of Text.
	HTML string
}

// Sent is a message as delivered (or, for the dev mailbox, as stored).
type Sent struct {
	// ID identifies the message in the store it was read from.
	ID string
	// From is the sender's bare address.
	From string
	// To are the recipients' bare addresses (no display names).
	To []string
	// Subject and Text are the decoded subject and plain-text body.
	Subject, Text string
	// At is when the message was sent (or received by the sink).
	At time.Time
}

// Mailer is the outgoing-mail port.
type Mailer interface {
	storage.Store
	// Send delivers m, or returns an error; an invalid m returns an error
	// wrapping ErrInvalidMessage and is not delivered.
	Send(ctx context.Context, m Message) error
}

// Validate reports whether m can be sent: it needs at least one recipient,
// every recipient must parse as an RFC 5322 address, and neither the subject
// nor an address may contain CR or LF. The error wraps ErrInvalidMessage.
func (m Message) Validate() error {
	_, err := m.Recipients()
	return err
}

// Recipients validates m (see Validate) and returns its parsed recipients.
func (m Message) Recipients() ([]*netmail.Address, error) {
	if len(m.To) == 0 {
		return nil, fmt.Errorf("%w: no recipient", ErrInvalidMessage)
	}
	if hasLineBreak(m.Subject) {
		return nil, fmt.Errorf("%w: line break in subject", ErrInvalidMessage)
	}
	out := make([]*netmail.Address, 0, len(m.To))
	for _, to := range m.To {
		a, err := ParseAddress(to)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseAddress parses one RFC 5322 address ("a@example.com" or
// "Name <a@example.com>"), refusing line breaks; the error wraps
// ErrInvalidMessage.
func ParseAddress(s string) (*netmail.Address, error) {
	if hasLineBreak(s) {
		return nil, fmt.Errorf("%w: line break in address %q", ErrInvalidMessage, s)
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%w: address %q: %v", ErrInvalidMessage, s, err)
	}
	if hasLineBreak(a.Name) || hasLineBreak(a.Address) {
		return nil, fmt.Errorf("%w: line break in address %q", ErrInvalidMessage, s)
	}
	return a, nil
}

func hasLineBreak(s string) bool { return strings.ContainsAny(s, "\r\n") }
