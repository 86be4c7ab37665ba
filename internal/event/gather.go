package event

import "time"

// Gather is the group commit of the publishers that batch concurrent
// requests (the feed and notification dispatchers): starting from first, it
// takes further requests from q until window has passed or the group's size
// (the sum of size over its requests) reaches max.
func Gather[T any](first T, q <-chan T, window time.Duration, max int, size func(T) int) []T {
	group := []T{first}
	n := size(first)
	timer := time.NewTimer(window)
	defer timer.Stop()
	for n < max {
		select {
		case r := <-q:
			group = append(group, r)
			n += size(r)
		case <-timer.C:
			return group
		}
	}
	return group
}
