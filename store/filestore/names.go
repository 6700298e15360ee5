package filestore

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxPrefix bounds the readable part of a function's file name; the hash
// after it keeps names apart, so the prefix is only there for people.
const maxPrefix = 64

// baseName maps a function identity to the stem of its file names: a
// sanitized, truncated copy of the identity for people to read, then a dot
// and 32 hex digits (128 bits) of the identity's SHA-256 for the machine.
// Two identities never share a stem (short of a SHA-256 collision), and
// every stem is a valid file name on Linux, macOS and Windows: only ASCII
// letters, digits, '-', '_' and '.', never a leading dot, never a reserved
// Windows device name (CON, NUL, COM1, ...).
func baseName(fn string) string {
	sum := sha256.Sum256([]byte(fn))
	h := hex.EncodeToString(sum[:16])
	var b strings.Builder
	for _, r := range fn {
		if b.Len() >= maxPrefix {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	p := strings.TrimLeft(b.String(), ".")
	if p == "" {
		return h
	}
	if reserved(p) {
		p = "_" + p
	}
	return p + "." + h
}

// reserved reports whether a name starting with p would be a Windows device
// name: Windows reserves "NUL" and "NUL.anything" alike.
func reserved(p string) bool {
	stem, _, _ := strings.Cut(p, ".")
	switch strings.ToUpper(stem) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) == 4 {
		u := strings.ToUpper(stem[:3])
		if (u == "COM" || u == "LPT") && stem[3] >= '0' && stem[3] <= '9' {
			return true
		}
	}
	return false
}

// Entry files of the separate-files layout end with entrySuffix. A key of
// lowercase hex digits (what the cachier core makes) is its own file name;
// any other key is hashed into a name that a hex key cannot take.
const entrySuffix = ".entry"

func entryName(key string) string {
	if len(key) > 0 && len(key) <= 128 && isLowerHex(key) {
		return key + entrySuffix
	}
	sum := sha256.Sum256([]byte(key))
	return "x~" + hex.EncodeToString(sum[:20]) + entrySuffix
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
