package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachier-go/cachier/store"
)

var _ store.Lister = (*Store)(nil)

// fieldSize holds len(value) in every entry's document, so that sizes can be
// summed without reading the values: FerretDB v1 implements neither
// $binarySize nor $cond, and $group only with $sum and $count.
const fieldSize = "size"

// listBatch is the cursor batch size of the Lister's scans: what the
// process holds of a scan at a time.
const listBatch = 256

// Functions implements store.Lister with three aggregations over the
// collection (entries, bytes and live marks per function) and one scan of
// the entries' functions and times (each function's oldest and newest
// entry): a number of queries that does not grow with the number of
// functions. Values are never read, except the values of entries written by
// versions of this store that did not record their size, read one batch at
// a time.
//
// Each query, and each batch of a cursor, runs under the store's timeout
// (see WithTimeout), not the whole listing: on a large collection of a
// server that scans (FerretDB v1 answers these queries by reading the
// collection) a query may need a longer one.
func (s *Store) Functions(ctx context.Context) ([]store.FuncInfo, error) {
	c, err := s.get(ctx)
	if err != nil {
		return nil, err
	}
	infos, err := s.functions(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("cachier: mongo list functions: %w", err)
	}
	return infos, nil
}

func (s *Store) functions(ctx context.Context, c *mongo.Collection) ([]store.FuncInfo, error) {
	now := time.Now()
	byFn := map[string]*store.FuncInfo{}
	var order []string
	info := func(fn string) *store.FuncInfo {
		fi := byFn[fn]
		if fi == nil {
			fi = &store.FuncInfo{Function: fn}
			byFn[fn] = fi
			order = append(order, fn)
		}
		return fi
	}

	// One accumulator per $group: FerretDB v1 computes only the first of
	// several (the others come back as 0).
	type group struct {
		Fn string `bson:"_id"`
		N  int64  `bson:"n"`
	}
	groups := func(match bson.D, sum any, each func(group)) error {
		octx, cancel := s.opContext(ctx)
		defer cancel()
		cur, err := c.Aggregate(octx, bson.A{
			bson.D{{Key: "$match", Value: match}},
			bson.D{{Key: "$group", Value: bson.D{
				{Key: "_id", Value: "$" + fieldFn},
				{Key: "n", Value: bson.D{{Key: "$sum", Value: sum}}},
			}}},
		}, options.Aggregate().SetBatchSize(listBatch))
		if err != nil {
			return err
		}
		defer cur.Close(context.Background())
		for {
			ok, err := s.next(ctx, cur)
			if !ok || err != nil {
				return err
			}
			var g group
			if err := cur.Decode(&g); err != nil {
				return err
			}
			each(g)
		}
	}

	entries := entriesFilter(nil, now)
	if err := groups(entries, 1, func(g group) { info(g.Fn).Entries = g.N }); err != nil {
		return nil, err
	}
	if err := groups(entries, "$"+fieldSize, func(g group) { info(g.Fn).Bytes = g.N }); err != nil {
		return nil, err
	}
	err := groups(bson.D{
		{Key: fieldProcessing, Value: true},
		{Key: fieldExpires, Value: bson.D{{Key: "$gt", Value: bson.NewDateTimeFromTime(now)}}},
	}, 1, func(g group) { info(g.Fn).Marks = g.N })
	if err != nil {
		return nil, err
	}
	// Entries without a recorded size (written by earlier versions of
	// this store): their values are read, a batch at a time.
	err = s.unsizedEntries(ctx, c, entries, func(fn string, n int64) {
		if fi := byFn[fn]; fi != nil {
			fi.Bytes += n
		}
	})
	if err != nil {
		return nil, err
	}

	// The oldest and newest entry of every function, from one scan of
	// the entries' times: one query per function would cost a server that
	// scans the collection for each (FerretDB v1) functions × documents.
	err = s.entryTimes(ctx, c, entries, func(fn string, t time.Time) {
		fi := byFn[fn]
		if fi == nil || fi.Entries == 0 {
			return // written after the counts were taken
		}
		if fi.Oldest.IsZero() || t.Before(fi.Oldest) {
			fi.Oldest = t
		}
		if fi.Newest.IsZero() || t.After(fi.Newest) {
			fi.Newest = t
		}
	})
	if err != nil {
		return nil, err
	}

	out := make([]store.FuncInfo, 0, len(order))
	for _, fn := range order {
		out = append(out, *byFn[fn])
	}
	return out, nil
}

// entriesFilter selects the documents that are entries (of fn, when it is
// not nil) and that Get would serve at now.
func entriesFilter(fn *string, now time.Time) bson.D {
	f := bson.D{}
	if fn != nil {
		f = append(f, bson.E{Key: fieldFn, Value: *fn})
	}
	return append(f,
		bson.E{Key: fieldCompleted, Value: true},
		bson.E{Key: fieldTime, Value: bson.D{{Key: "$exists", Value: true}}}, // else Get misses it
		// Not expired (no expiry, or one after now), as Get judges it.
		bson.E{Key: fieldExpireAt, Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$lte", Value: bson.NewDateTimeFromTime(now)}}}}},
	)
}

// entryTimes calls each with the function and time of every entry filter
// selects, read a batch at a time without the values.
func (s *Store) entryTimes(ctx context.Context, c *mongo.Collection, filter bson.D, each func(fn string, t time.Time)) error {
	cur, err := s.find(ctx, c, filter, options.Find().
		SetProjection(bson.D{{Key: fieldFn, Value: 1}, {Key: fieldTime, Value: 1}}).
		SetBatchSize(listBatch))
	if err != nil {
		return err
	}
	defer cur.Close(context.Background())
	for {
		ok, err := s.next(ctx, cur)
		if !ok || err != nil {
			return err
		}
		fn, _ := cur.Current.Lookup(fieldFn).StringValueOK()
		if t, ok := cur.Current.Lookup(fieldTime).TimeOK(); ok {
			each(fn, t)
		}
	}
}

// unsizedEntries calls each with the function and value size of every
// entry filter selects that has no recorded size.
func (s *Store) unsizedEntries(ctx context.Context, c *mongo.Collection, filter bson.D, each func(fn string, n int64)) error {
	filter = append(filter, bson.E{Key: fieldSize, Value: bson.D{{Key: "$exists", Value: false}}})
	cur, err := s.find(ctx, c, filter, options.Find().
		SetProjection(bson.D{{Key: fieldFn, Value: 1}, {Key: fieldValue, Value: 1}}).
		SetBatchSize(16)) // whole values: a small batch
	if err != nil {
		return err
	}
	defer cur.Close(context.Background())
	for {
		ok, err := s.next(ctx, cur)
		if !ok || err != nil {
			return err
		}
		fn, _ := cur.Current.Lookup(fieldFn).StringValueOK()
		_, data, _ := cur.Current.Lookup(fieldValue).BinaryOK()
		each(fn, int64(len(data)))
	}
}

// Entries implements store.Lister with one cursor over fn's entries,
// projected without their values. The scan runs under the store's timeout
// afresh for every batch, not for the whole scan, however long yield takes.
func (s *Store) Entries(ctx context.Context, fn string, yield func(store.EntryInfo) error) error {
	c, err := s.get(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	cur, err := s.find(ctx, c, entriesFilter(&fn, now), options.Find().
		SetProjection(bson.D{{Key: fieldKey, Value: 1}, {Key: fieldTime, Value: 1}, {Key: fieldSize, Value: 1}}).
		SetBatchSize(listBatch))
	if err != nil {
		return fmt.Errorf("cachier: mongo list entries of %s: %w", fn, err)
	}
	defer cur.Close(context.Background())
	for {
		ok, err := s.next(ctx, cur)
		if err != nil {
			return fmt.Errorf("cachier: mongo list entries of %s: %w", fn, err)
		}
		if !ok {
			return nil
		}
		key, _ := cur.Current.Lookup(fieldKey).StringValueOK()
		t, okT := cur.Current.Lookup(fieldTime).TimeOK()
		if !okT {
			continue // not an entry this store wrote: Get would miss it too
		}
		size, sized := cur.Current.Lookup(fieldSize).AsInt64OK()
		if !sized {
			if size, err = s.valueSize(ctx, c, fn, key); err != nil {
				return fmt.Errorf("cachier: mongo list entries of %s: %w", fn, err)
			}
		}
		if err := yield(store.EntryInfo{Key: key, Time: t, Size: size}); err != nil {
			return err
		}
	}
}

// find opens a cursor under the store's timeout.
func (s *Store) find(ctx context.Context, c *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder) (*mongo.Cursor, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return c.Find(ctx, filter, opts)
}

// next advances cur under the store's timeout (a batch may be fetched).
func (s *Store) next(ctx context.Context, cur *mongo.Cursor) (bool, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if cur.Next(ctx) {
		return true, nil
	}
	return false, cur.Err()
}

// valueSize returns the size of the value of key in fn, read whole: for an
// entry written without a recorded size.
func (s *Store) valueSize(ctx context.Context, c *mongo.Collection, fn, key string) (int64, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	raw, err := c.FindOne(ctx, idFilter(fn, key), options.FindOne().
		SetProjection(bson.D{{Key: fieldValue, Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil // deleted meanwhile
	}
	if err != nil {
		return 0, err
	}
	_, data, _ := raw.Lookup(fieldValue).BinaryOK()
	return int64(len(data)), nil
}

// get returns the collection, calling the getter under the store's timeout
// where it has not succeeded yet.
func (s *Store) get(ctx context.Context) (*mongo.Collection, error) {
	if c := s.coll.Load(); c != nil {
		return c, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return s.collection(ctx)
}

// opContext returns ctx bounded by the store's timeout.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout > 0 {
		return context.WithTimeout(ctx, s.timeout)
	}
	return ctx, func() {}
}
