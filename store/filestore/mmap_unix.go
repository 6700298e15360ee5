//go:build unix

package filestore

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// canMap says whether the log and the change counter are read through
// memory mappings: on 64-bit Unix systems, where address space is plenty.
const canMap = unsafe.Sizeof(uintptr(0)) == 8

// sysMap maps the first size bytes of f, shared with every other process
// that maps the file, for reading, and writing with rw.
func sysMap(f *os.File, size int, rw bool) ([]byte, error) {
	prot := unix.PROT_READ
	if rw {
		prot |= unix.PROT_WRITE
	}
	return unix.Mmap(int(f.Fd()), 0, size, prot, unix.MAP_SHARED)
}

// sysUnmap undoes sysMap.
func sysUnmap(b []byte) { _ = unix.Munmap(b) }
