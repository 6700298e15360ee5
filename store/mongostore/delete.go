package mongostore

import (
	"context"
	"fmt"
)

// Delete implements store.Store with one delete by _id: the key's document
// goes, and with it a mark of the key, which lives in the same document.
func (s *Store) Delete(ctx context.Context, fn, key string) error {
	ctx, cancel, c, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := c.DeleteOne(ctx, idFilter(fn, key)); err != nil {
		return fmt.Errorf("cachier: mongo delete %s %s: %w", fn, key, err)
	}
	return nil
}
