package cachier

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
)

// An identity is written
//
//	[P ":"] Q ["@" V] "#" F
//
// where P is the key_prefix, Q the qualified name (or name=), V the version
// and F the fingerprint of the argument and result types. P, Q and V are
// escaped (escapePart), so that an identity holds a ":" exactly when it has
// a key_prefix, the escaped prefix is everything before the first ":", and
// two different (key_prefix, name, version) triples never give one identity.
func identity(prefix, qual, version, fingerprint string) string {
	var b strings.Builder
	if prefix != "" {
		b.WriteString(escapePart(prefix))
		b.WriteByte(':')
	}
	b.WriteString(escapePart(qual))
	if version != "" {
		b.WriteByte('@')
		b.WriteString(escapePart(version))
	}
	b.WriteByte('#')
	b.WriteString(fingerprint)
	return b.String()
}

// escapePart escapes the characters that structure an identity: "%", ":",
// "@" and "#" become "%25", "%3A", "%40" and "%23". Other text, the usual
// case, is returned unchanged.
func escapePart(s string) string {
	if !strings.ContainsAny(s, "%:@#") {
		return s
	}
	var b strings.Builder
	for i := range len(s) {
		switch c := s[i]; c {
		case '%':
			b.WriteString("%25")
		case ':':
			b.WriteString("%3A")
		case '@':
			b.WriteString("%40")
		case '#':
			b.WriteString("%23")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isClosure reports whether name, a function name as runtime.FuncForPC
// gives it, is a func literal or a method value: something whose name does
// not say which function it is (two closures from one factory share it,
// and with inlining off so do different literals of one function).
//
// The compiler names func literals Outer.func1, Outer.func1.2 (nested),
// Outer.gowrap1 and Outer.deferwrap1, and method values T.M-fm.
func isClosure(name string) bool {
	// Look only past the import path, and outside type arguments
	// (F[...]), which may hold dots and slashes of their own.
	name = stripBrackets(name)
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	parts := strings.Split(name, ".")
	for _, p := range parts[1:] { // parts[0] is the package name
		if strings.HasSuffix(p, "-fm") || isNumbered(p, "func") || isNumbered(p, "gowrap") ||
			isNumbered(p, "deferwrap") || isNumbered(p, "") {
			return true
		}
	}
	return false
}

// isNumbered reports whether p is prefix followed by one or more digits.
func isNumbered(p, prefix string) bool {
	if !strings.HasPrefix(p, prefix) || len(p) == len(prefix) {
		return false
	}
	for _, c := range p[len(prefix):] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// stripBrackets removes every [...] group, nested ones included.
func stripBrackets(s string) string {
	if !strings.Contains(s, "[") {
		return s
	}
	var b strings.Builder
	depth := 0
	for _, c := range s {
		switch {
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// mainPath is the import path that stands for package main in identities:
// the program's main package path from its build information, so that two
// programs' main.Service.Fetch never share entries. A program built from
// files (go run x.go) has the path "command-line-arguments"; its
// executable's name is added to it.
var mainPath = sync.OnceValue(func() string {
	path := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		path = bi.Path
	}
	if path == "" || path == "command-line-arguments" {
		exe := "unknown"
		if e, err := os.Executable(); err == nil {
			exe = strings.TrimSuffix(filepath.Base(e), filepath.Ext(e))
		}
		if path == "" {
			path = "main"
		}
		path += "/" + exe
	}
	return path
})

// qualifyMain replaces a leading package main in a qualified name ("main.
// Service.Fetch", "main.fetch") with the program's main package path.
func qualifyMain(name string) string {
	if rest, ok := strings.CutPrefix(name, "main."); ok {
		return mainPath() + "." + rest
	}
	return name
}
