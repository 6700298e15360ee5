package cachier

import (
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/filestore"
)

func init() {
	openFileStore = func(dir string, separate, noReload bool) (store.Store, error) {
		return filestore.New(dir, filestore.Options{SeparateFiles: separate, NoReload: noReload, Logger: storeLogger})
	}
}
