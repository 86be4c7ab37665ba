package notification

import (
	"context"
	"testing"
)

// TestHubMayListen: the in-process hub knows exactly who listens.
func TestHubMayListen(t *testing.T) {
	h := &Hub{}
	if h.MayListen("ana") {
		t.Fatal("MayListen before any subscription")
	}
	_, cancel, err := h.Subscribe(context.Background(), "ana")
	if err != nil {
		t.Fatal(err)
	}
	if !h.MayListen("ana") || h.MayListen("ben") {
		t.Fatalf("with ana subscribed: MayListen(ana) = %v, MayListen(ben) = %v", h.MayListen("ana"), h.MayListen("ben"))
	}
	cancel()
	if h.MayListen("ana") {
		t.Fatal("MayListen after the subscription was cancelled")
	}
}
