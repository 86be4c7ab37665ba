package authapi

import "time"

// timeNow is the clock (UTC).
func timeNow() time.Time { return time.Now().UTC() }
