package memstore_test

import (
	"testing"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
	"github.com/cachier-go/cachier/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
}
