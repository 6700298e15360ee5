// Package mongostore is the cachier store for MongoDB: the "mongo" backend,
// on the official driver, go.mongodb.org/mongo-driver/v2.
//
// # Connection
//
// The store never dials: it takes a getter, cachier's "mongetter", that
// returns the collection to use. The getter is called lazily, on the first
// operation that needs the collection, so a program can decorate its
// functions before the database is reachable. Once the getter succeeds its
// collection is kept for the life of the store; while it fails, every
// operation returns its error (and the cachier core calls the function
// anyway), and the next operation calls it again.
//
//	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:27017"))
//	…
//	st := mongostore.New(func(ctx context.Context) (*mongo.Collection, error) {
//		return client.Database("app").Collection("cachier"), nil
//	})
//	defaults.Register("mongo", st) // then `cachier:"backend=mongo"`
//
// # Documents
//
// Each entry is one document of the collection:
//
//	{_id: "<len(key)>:<key>:<fn>", fn: <function identity>, key: <key>,
//	 value: <binary>, size: <len(value)>, time: <date>, stale: false, processing: <bool>,
//	 completed: <bool>, owner: <mark owner>, expires: <date>, token: <random>,
//	 expire_at: <date>}
//
// where expires is the mark's expiry and expire_at the entry's
// (store.Entry.Expires, the function's expire_after past its time; absent
// when it has none), with a unique index on (fn, key), named
// "cachier_fn_key", and a TTL index on expire_at (expireAfterSeconds 0),
// named "cachier_expire_at", which the store creates (if missing) the first
// time it gets the collection. The TTL index lets a mongod delete expired
// entries by itself (its TTL monitor runs once a minute). A server that
// refuses it (FerretDB v1 does not implement expireAfterSeconds) costs one
// warning per store, through WithLogger's logger; either way Get reports an
// entry past its expire_at as store.ErrNotFound, whether or not it is gone
// yet, the Lister does not count it, and DeleteStale deletes it.
//
// The _id is derived from (fn, key), so that reads and writes of one entry
// select it by _id alone: the cheapest lookup on every server (FerretDB v1
// pushes down no other filter, and scans the collection for the rest). Every
// write is an upsert of one document, which MongoDB applies atomically, so a
// failed write leaves the previous entry as it was. Times are BSON dates
// (millisecond precision). Many functions may share one collection.
//
// # Being-calculated marks
//
// A mark is the fields processing, owner and expires of the key's document.
// Mark reads the document by _id first, so a waiter polling a key that
// another owner is computing learns it from one read. Otherwise:
//
//   - No document (no entry, no mark): Mark inserts one with completed false
//     and owner's mark. Of any number of concurrent callers in any number of
//     processes, exactly one insert succeeds; the rest get a duplicate-key
//     error and read again. Get reports such a document as store.ErrNotFound.
//   - A free or expired mark on a document: the document carries a random
//     token, and Mark first inserts a claim document whose _id names that
//     token. Exactly one caller's claim insert succeeds; it then sets its
//     mark and a new token with an update conditional on the old token, and
//     deletes the claim. The value and time of the entry are left alone.
//   - owner's own mark: an update conditional on owner and token extends it.
//
// On a genuine mongod the conditional update alone would make a takeover
// atomic. The claim makes it atomic on FerretDB v1 too, which applies an
// update as a read followed by a write without a transaction: there a unique
// insert is the one operation that has exactly one winner. A claim whose
// maker died before marking stops counting when the mark it was made for
// would have expired (after the mark's ttl, 30 seconds at most), so a
// process that dies mid-takeover blocks the key no longer than one that
// dies holding the mark. Claim
// documents have completed false and a key that no entry uses (key + "#…"),
// so they are invisible to Get and removed by Clear and ClearMarks.
//
// Expiry is judged by the clocks of the processes sharing the store, which
// should therefore be roughly in step (within a small fraction of the marks'
// ttl).
//
// The store does not implement store.Waiter (change streams need a replica
// set, and FerretDB has none): waiters poll.
//
// # Listing
//
// The store implements store.Lister for operators (the cachier command):
// Functions groups the collection by function in aggregations ($match, and
// $group with one $sum each, which FerretDB v1 supports) and finds each
// function's oldest and newest entry in one scan of the entries' functions
// and times (FerretDB v1 has no $min or $max accumulator); Entries is one
// cursor over a function's entries. Neither reads values: every entry's
// document records its value's size (size), which the listing sums. Each
// query, and each batch of a cursor, runs under the store's timeout.
//
// # Timeouts
//
// Every operation runs under a deadline (WithTimeout, default
// DefaultTimeout) on top of the caller's context. The driver's own server
// selection timeout is 30 seconds; the deadline cuts it short, so with the
// server gone each call fails within the timeout instead of hanging.
//
// # Compatibility
//
// The store uses only finds by equality and comparison ($ne, $lt, $lte,
// $not, $or, $exists), inserts, updates with $set, $unset and $setOnInsert,
// deletes, aggregations of $match and $group with one $sum, and one unique
// index, which both a genuine mongod and FerretDB v1 support, and a TTL index,
// which only mongod does (see Documents); its tests run against FerretDB (see
// scripts/services/mongo.sh).
//
// On FerretDB v1 a hit, a Set, a Mark on a new key and a waiter's Mark are
// lookups by _id, which it answers from an index. Taking over a mark,
// extending one, Unmark, Clear, ClearMarks and DeleteStale carry filters it
// answers by scanning the collection: they cost time in proportion to the
// collection's size. A genuine mongod answers all of them from indexes.
package mongostore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachier-go/cachier/store"
)

// DefaultTimeout bounds each store operation unless WithTimeout says
// otherwise: long enough for a slow network and a large value, short enough
// that an outage costs a caller little before the core falls back to calling
// the function.
const DefaultTimeout = 5 * time.Second

// IndexName is the name of the unique index on (fn, key) the store creates.
const IndexName = "cachier_fn_key"

// TTLIndexName is the name of the TTL index on the entries' expiry
// (expire_at, expireAfterSeconds 0) the store creates where the server
// supports it.
const TTLIndexName = "cachier_expire_at"

// Field names of an entry's document.
const (
	fieldFn         = "fn"
	fieldKey        = "key"
	fieldValue      = "value"
	fieldTime       = "time"
	fieldStale      = "stale"
	fieldProcessing = "processing"
	fieldCompleted  = "completed"
	fieldOwner      = "owner"
	fieldExpires    = "expires"
	fieldToken      = "token"     // names the mark state; replaced by each mark taken over
	fieldExpireAt   = "expire_at" // the entry's store.Entry.Expires, absent for none
	fieldClaimed    = "claimed"   // in a claim document: when it was made
)

// Store is a store.Store in a MongoDB collection. It is safe for concurrent
// use. The zero value is not usable; call New.
type Store struct {
	getter  func(ctx context.Context) (*mongo.Collection, error)
	timeout time.Duration
	logger  *slog.Logger

	coll atomic.Pointer[mongo.Collection] // set once the getter and the index succeeded
	turn chan struct{}                    // a token: held while calling the getter
}

var _ store.Store = (*Store)(nil)

// An Option configures a Store.
type Option func(*Store)

// WithTimeout bounds every store operation, the first call of the getter
// and the creation of the index included, to d on top of the caller's
// context. d <= 0 means no bound but the caller's context (and the driver's
// own timeouts).
func WithTimeout(d time.Duration) Option {
	return func(s *Store) { s.timeout = d }
}

// WithLogger sets the logger of the store's warnings (a server that refuses
// the TTL index); nil, the default, means slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.logger = l }
}

// New returns a store on the collection getter returns. getter is not
// called until an operation needs the collection; see the package
// documentation. getter should return when its context is done: the
// operation that calls it waits for it, though operations that meanwhile
// need the collection give up at their own deadline.
func New(getter func(ctx context.Context) (*mongo.Collection, error), opts ...Option) *Store {
	s := &Store{getter: getter, timeout: DefaultTimeout, turn: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// begin returns the operation's context and the collection.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, *mongo.Collection, error) {
	ctx, cancel := s.opContext(ctx)
	if c := s.coll.Load(); c != nil {
		return ctx, cancel, c, nil
	}
	c, err := s.collection(ctx)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, cancel, c, nil
}

// collection calls the getter and creates the index, once they succeed.
func (s *Store) collection(ctx context.Context) (*mongo.Collection, error) {
	// One caller at a time calls the getter; the others wait for their
	// turn no longer than their context allows, so that a getter that
	// hangs does not hang every operation past its timeout.
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-ctx.Done():
		return nil, fmt.Errorf("cachier: mongo get collection: %w", context.Cause(ctx))
	}
	if c := s.coll.Load(); c != nil {
		return c, nil
	}
	if s.getter == nil {
		return nil, errors.New("cachier: mongo: nil collection getter")
	}
	c, err := s.getter(ctx)
	if err != nil {
		return nil, fmt.Errorf("cachier: mongo get collection: %w", err)
	}
	if c == nil {
		return nil, errors.New("cachier: mongo get collection: getter returned a nil collection")
	}
	_, err = c.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: fieldFn, Value: 1}, {Key: fieldKey, Value: 1}},
		Options: options.Index().SetUnique(true).SetName(IndexName),
	})
	if err != nil {
		return nil, fmt.Errorf("cachier: mongo create index %s on %s: %w", IndexName, c.Name(), err)
	}
	if err := s.ttlIndex(ctx, c); err != nil {
		return nil, err
	}
	s.coll.Store(c)
	return c, nil
}

// ttlIndex creates the TTL index on the entries' expiry. A server that
// refuses it (FerretDB v1 implements no expireAfterSeconds; a mongod may
// hold a conflicting index of the same key) costs a warning, once per store:
// expired entries are never served anyway (Get checks expire_at) and
// DeleteStale removes them. Any other error (the server unreachable) fails
// like the unique index's, and the next operation tries again.
func (s *Store) ttlIndex(ctx context.Context, c *mongo.Collection) error {
	_, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: fieldExpireAt, Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(0).SetName(TTLIndexName),
	})
	var refused mongo.CommandError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &refused):
		logger := s.logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("cachier: mongo: the server refused the TTL index on the entries' expiry; "+
			"expired entries are not served, and DeleteStale (cleanup_stale) deletes them",
			"collection", c.Name(), "index", TTLIndexName, "err", err)
		return nil
	default:
		return fmt.Errorf("cachier: mongo create index %s on %s: %w", TTLIndexName, c.Name(), err)
	}
}

// docID returns the _id of the document of key in fn. The length prefix
// makes it injective whatever characters fn and key hold.
func docID(fn, key string) string {
	return strconv.Itoa(len(key)) + ":" + key + ":" + fn
}

func idFilter(fn, key string) bson.D {
	return bson.D{{Key: "_id", Value: docID(fn, key)}}
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	ctx, cancel, c, err := s.begin(ctx)
	if err != nil {
		return store.Entry{}, err
	}
	defer cancel()
	raw, err := c.FindOne(ctx, idFilter(fn, key)).Raw()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return store.Entry{}, store.ErrNotFound
	case err != nil:
		return store.Entry{}, fmt.Errorf("cachier: mongo get %s %s: %w", fn, key, err)
	}
	if done, ok := raw.Lookup(fieldCompleted).BooleanOK(); !ok || !done {
		return store.Entry{}, store.ErrNotFound // a mark without an entry
	}
	// A document this store did not write (a value that is not binary, no
	// time) is a miss, so that the core computes the result and Set
	// overwrites it, rather than an error on every call.
	_, data, ok := raw.Lookup(fieldValue).BinaryOK()
	if !ok {
		return store.Entry{}, store.ErrNotFound
	}
	t, ok := raw.Lookup(fieldTime).TimeOK()
	if !ok {
		return store.Entry{}, store.ErrNotFound
	}
	e := store.Entry{Time: t}
	if xv, err := raw.LookupErr(fieldExpireAt); err == nil {
		x, ok := xv.TimeOK()
		if !ok {
			return store.Entry{}, store.ErrNotFound // not written by this store
		}
		e.Expires = x
		if e.Expired(time.Now()) {
			return store.Entry{}, store.ErrNotFound // not yet removed by a TTL index
		}
	}
	// The driver may reuse the reply's buffer; the entry gets its own bytes.
	e.Value = bytes.Clone(data)
	if e.Value == nil {
		e.Value = []byte{}
	}
	return e, nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, fn, key string, e store.Entry) error {
	ctx, cancel, c, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	v := e.Value
	if v == nil {
		v = []byte{}
	}
	set := bson.D{
		{Key: fieldFn, Value: fn},
		{Key: fieldKey, Value: key},
		{Key: fieldValue, Value: bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: v}},
		{Key: fieldSize, Value: int64(len(v))},
		{Key: fieldTime, Value: bson.NewDateTimeFromTime(e.Time)},
		{Key: fieldStale, Value: false},
		{Key: fieldProcessing, Value: false},
		{Key: fieldCompleted, Value: true},
	}
	unset := bson.D{{Key: fieldOwner, Value: ""}, {Key: fieldExpires, Value: ""}}
	if e.Expires.IsZero() {
		unset = append(unset, bson.E{Key: fieldExpireAt, Value: ""})
	} else {
		set = append(set, bson.E{Key: fieldExpireAt, Value: bson.NewDateTimeFromTime(e.Expires)})
	}
	update := bson.D{
		{Key: "$set", Value: set},
		{Key: "$unset", Value: unset},
		{Key: "$setOnInsert", Value: bson.D{{Key: fieldToken, Value: newToken()}}},
	}
	opts := options.UpdateOne().SetUpsert(true)
	_, err = c.UpdateOne(ctx, idFilter(fn, key), update, opts)
	if mongo.IsDuplicateKeyError(err) {
		// A concurrent upsert of the same key inserted the document first
		// (mongod retries such upserts itself; other servers may not): it
		// exists now, so the same update replaces it.
		_, err = c.UpdateOne(ctx, idFilter(fn, key), update, opts)
	}
	if err != nil {
		return fmt.Errorf("cachier: mongo set %s %s: %w", fn, key, err)
	}
	return nil
}

// Mark implements store.Store.
func (s *Store) Mark(ctx context.Context, fn, key, owner string, ttl time.Duration) (bool, error) {
	ctx, cancel, c, err := s.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	acquired, err := s.mark(ctx, c, fn, key, owner, ttl)
	if err != nil {
		return false, fmt.Errorf("cachier: mongo mark %s %s: %w", fn, key, err)
	}
	return acquired, nil
}

func (s *Store) mark(ctx context.Context, c *mongo.Collection, fn, key, owner string, ttl time.Duration) (bool, error) {
	id := docID(fn, key)
	// A pass ends in an answer unless the document changed under it (it
	// was created, or its token moved on): then the next pass sees why.
	for range 3 {
		now := time.Now()
		expires := bson.NewDateTimeFromTime(now.Add(ttl))
		raw, err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, markOpts).Raw()
		if errors.Is(err, mongo.ErrNoDocuments) {
			// No entry and no mark: the insert that creates the document
			// is the mark, and the _id lets exactly one caller make it.
			_, err := c.InsertOne(ctx, bson.D{
				{Key: "_id", Value: id},
				{Key: fieldFn, Value: fn},
				{Key: fieldKey, Value: key},
				{Key: fieldStale, Value: false},
				{Key: fieldProcessing, Value: true},
				{Key: fieldCompleted, Value: false},
				{Key: fieldOwner, Value: owner},
				{Key: fieldExpires, Value: expires},
				{Key: fieldToken, Value: newToken()},
			})
			if mongo.IsDuplicateKeyError(err) {
				continue // created meanwhile: look again
			}
			return err == nil, err
		}
		if err != nil {
			return false, err
		}
		processing, _ := raw.Lookup(fieldProcessing).BooleanOK()
		holder, _ := raw.Lookup(fieldOwner).StringValueOK()
		until, _ := raw.Lookup(fieldExpires).TimeOK()
		token, hasToken := raw.Lookup(fieldToken).StringValueOK()
		// Documents written before tokens existed have none; their state
		// is named by the token's absence.
		tokenIs := bson.E{Key: fieldToken, Value: token}
		if !hasToken {
			tokenIs.Value = bson.D{{Key: "$exists", Value: false}}
		}
		live := processing && until.After(now)
		switch {
		case live && holder != owner:
			return false, nil // a waiter learns it from one read
		case processing && holder == owner:
			// owner extends its own mark, as long as nobody has taken it.
			res, err := c.UpdateOne(ctx,
				bson.D{{Key: "_id", Value: id}, {Key: fieldOwner, Value: owner}, tokenIs},
				bson.D{{Key: "$set", Value: bson.D{{Key: fieldProcessing, Value: true}, {Key: fieldExpires, Value: expires}}}})
			if err != nil {
				return false, err
			}
			if res.MatchedCount == 1 {
				return true, nil
			}
			continue
		}
		// Free or expired: claim the document's current token, then move
		// the document to a new token with owner's mark.
		claim, won, err := s.claim(ctx, c, fn, key, id, token, now, ttl)
		if err != nil || !won {
			return false, err
		}
		if afterClaim != nil {
			afterClaim()
		}
		res, err := c.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, tokenIs},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: fieldProcessing, Value: true},
				{Key: fieldOwner, Value: owner},
				{Key: fieldExpires, Value: expires},
				{Key: fieldToken, Value: newToken()},
			}}})
		// The claim is spent either way: the token it names is gone, or
		// the document was deleted.
		if _, derr := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: claim}}); err == nil && derr != nil {
			err = derr
		}
		if err != nil {
			return false, err
		}
		if res.MatchedCount == 1 {
			return true, nil
		}
	}
	return false, nil
}

// claim inserts the claim document that entitles one caller to replace the
// token of document id: the unique _id lets exactly one caller insert it.
// A claim left behind by a caller that died between claiming and marking
// stops counting at its expiry, one mark ttl after it was made (at most
// maxClaimLife), and the next attempt number is claimed: a dead takeover
// blocks the key no longer than a dead mark would.
func (s *Store) claim(ctx context.Context, c *mongo.Collection, fn, key, id, token string, now time.Time, ttl time.Duration) (claim string, won bool, err error) {
	life := min(ttl, maxClaimLife)
	for attempt := range maxClaimAttempts {
		n := strconv.Itoa(attempt)
		claim = "claim:" + token + ":" + n + ":" + id
		_, err := c.InsertOne(ctx, bson.D{
			{Key: "_id", Value: claim},
			{Key: fieldFn, Value: fn},
			{Key: fieldKey, Value: key + "#claim:" + token + ":" + n}, // apart from every key, under the unique index
			{Key: fieldCompleted, Value: false},
			{Key: fieldClaimed, Value: bson.NewDateTimeFromTime(now)},
			{Key: fieldExpires, Value: bson.NewDateTimeFromTime(now.Add(life))},
		})
		if err == nil {
			return claim, true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return "", false, err
		}
		raw, err := c.FindOne(ctx, bson.D{{Key: "_id", Value: claim}}).Raw()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return "", false, nil // spent: its winner has marked the key
		}
		if err != nil {
			return "", false, err
		}
		if claimLive(raw, now) {
			return "", false, nil // another caller is marking the key right now
		}
	}
	return "", false, nil
}

// claimLive reports whether the claim document raw still counts at now:
// before its expiry, and never longer than maxClaimLife after its making (a
// claim without an expiry, written by an earlier version of this store,
// counts that long).
func claimLive(raw bson.Raw, now time.Time) bool {
	at, _ := raw.Lookup(fieldClaimed).TimeOK()
	if !at.After(now.Add(-maxClaimLife)) {
		return false
	}
	if until, ok := raw.Lookup(fieldExpires).TimeOK(); ok {
		return until.After(now)
	}
	return true
}

// newToken returns a random token for a document's mark state.
func newToken() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

const (
	// maxClaimLife bounds how long a claim counts when its maker neither
	// marks the key nor deletes the claim (it died in between); a claim
	// counts for the mark's ttl when that is shorter. It exceeds any
	// sensible operation timeout.
	maxClaimLife = 30 * time.Second

	// maxClaimAttempts bounds the stale claims skipped on one token.
	maxClaimAttempts = 8
)

// afterClaim, when set (by tests only), runs in Mark between a won claim
// and the update that marks the key.
var afterClaim func()

var markOpts = options.FindOne().SetProjection(bson.D{
	{Key: fieldProcessing, Value: 1},
	{Key: fieldOwner, Value: 1},
	{Key: fieldExpires, Value: 1},
	{Key: fieldToken, Value: 1},
})

var unmarkUpdate = bson.D{
	{Key: "$set", Value: bson.D{{Key: fieldProcessing, Value: false}}},
	{Key: "$unset", Value: bson.D{{Key: fieldOwner, Value: ""}, {Key: fieldExpires, Value: ""}}},
}

// Unmark implements store.Store.
func (s *Store) Unmark(ctx context.Context, fn, key, owner string) error {
	ctx, cancel, c, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	id := docID(fn, key)
	// Read first, as Mark does: most keys are not owner's to unmark.
	raw, err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, markOpts).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err == nil {
		if holder, _ := raw.Lookup(fieldOwner).StringValueOK(); holder != owner {
			return nil
		}
		mine := bson.D{{Key: "_id", Value: id}, {Key: fieldOwner, Value: owner}}
		// A document that holds only the mark goes; an entry loses its mark.
		var res *mongo.DeleteResult
		res, err = c.DeleteOne(ctx, append(mine, bson.E{Key: fieldCompleted, Value: false}))
		if err == nil && res.DeletedCount == 0 {
			_, err = c.UpdateOne(ctx, mine, unmarkUpdate)
		}
	}
	if err != nil {
		return fmt.Errorf("cachier: mongo unmark %s %s: %w", fn, key, err)
	}
	return nil
}

// Clear implements store.Store.
func (s *Store) Clear(ctx context.Context, fn string) error {
	ctx, cancel, c, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := c.DeleteMany(ctx, bson.D{{Key: fieldFn, Value: fn}}); err != nil {
		return fmt.Errorf("cachier: mongo clear %s: %w", fn, err)
	}
	return nil
}

// ClearMarks implements store.Store.
func (s *Store) ClearMarks(ctx context.Context, fn string) error {
	ctx, cancel, c, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = c.DeleteMany(ctx, bson.D{{Key: fieldFn, Value: fn}, {Key: fieldCompleted, Value: false}})
	if err == nil {
		_, err = c.UpdateMany(ctx, bson.D{{Key: fieldFn, Value: fn}, {Key: fieldProcessing, Value: true}}, unmarkUpdate)
	}
	if err != nil {
		return fmt.Errorf("cachier: mongo clear marks %s: %w", fn, err)
	}
	return nil
}

// DeleteStale implements store.Store. It also deletes the function's
// expired entries (past expire_at), whatever cutoff, for servers where no
// TTL index does. A stale entry whose key is marked loses its value and
// keeps the mark.
func (s *Store) DeleteStale(ctx context.Context, fn string, cutoff time.Time) error {
	ctx, cancel, c, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	// Older than cutoff, or expired (where no TTL index removes them).
	old := bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: fieldTime, Value: bson.D{{Key: "$lt", Value: bson.NewDateTimeFromTime(cutoff)}}}},
		bson.D{{Key: fieldExpireAt, Value: bson.D{{Key: "$lte", Value: bson.NewDateTimeFromTime(time.Now())}}}},
	}}
	_, err = c.DeleteMany(ctx, bson.D{
		{Key: fieldFn, Value: fn},
		{Key: fieldCompleted, Value: true},
		{Key: fieldProcessing, Value: bson.D{{Key: "$ne", Value: true}}},
		old,
	})
	if err == nil {
		_, err = c.UpdateMany(ctx, bson.D{
			{Key: fieldFn, Value: fn},
			{Key: fieldCompleted, Value: true},
			{Key: fieldProcessing, Value: true},
			old,
		}, bson.D{
			{Key: "$set", Value: bson.D{{Key: fieldCompleted, Value: false}}},
			{Key: "$unset", Value: bson.D{{Key: fieldValue, Value: ""}, {Key: fieldTime, Value: ""}, {Key: fieldExpireAt, Value: ""}}},
		})
	}
	if err != nil {
		return fmt.Errorf("cachier: mongo delete stale %s: %w", fn, err)
	}
	return nil
}
