// Command mainident prints the identities of functions of package main,
// for TestMainPackageIsQualified.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/cachier-go/cachier"
)

// Service is a struct of package main.
type Service struct {
	Fetch func(id int) string `cachier:"backend=memory"`
}

func fetch(id int) string { return fmt.Sprint(id) }

func main() {
	s := Service{Fetch: fetch}
	f := fetch
	if err := cachier.Decorate(&s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Two different func literals: each needs name=, also when the
	// program is built with inlining off (-gcflags=-l).
	g1 := func(id int) string { return "one" }
	g2 := func(id int) string { return "two" }
	for _, g := range []*func(int) string{&g1, &g2} {
		err := cachier.Decorate(g, cachier.Tag("backend=memory"))
		fmt.Println("literal:", err != nil && strings.Contains(err.Error(), "name="))
	}
	for _, p := range []any{&s.Fetch, &f} {
		h, err := cachier.Of(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(h.Name())
	}
}
