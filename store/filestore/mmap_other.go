//go:build !unix

package filestore

import (
	"errors"
	"os"
)

// canMap is false: on this system the store stats the log before every Get
// and reads values with positioned reads.
const canMap = false

func sysMap(*os.File, int, bool) ([]byte, error) {
	return nil, errors.New("memory mappings are not used on this system")
}

func sysUnmap([]byte) {}
