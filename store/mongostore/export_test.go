package mongostore

// SetAfterClaimHook installs f to run in Mark right after a caller's claim
// document is inserted and before the key is marked (nil removes it): the
// moment a process that dies mid-takeover leaves its claim behind.
func SetAfterClaimHook(f func()) { afterClaim = f }
