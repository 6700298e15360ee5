package main

import (
	"log"
	"os"
)

func tempDir() (string, func()) {
	dir, err := os.MkdirTemp("", "cachier-service-example-")
	if err != nil {
		log.Fatal(err)
	}
	return dir, func() { os.RemoveAll(dir) }
}
