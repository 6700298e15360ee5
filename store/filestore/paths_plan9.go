package filestore

// readOnlyFS is false on Plan 9: its errors are strings, with no code for a
// read-only file system; a refusal that says "permission denied" is seen
// by readOnly as fs.ErrPermission.
func readOnlyFS(error) bool { return false }
