package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/redisstore"
	"github.com/cachier-go/cachier/store/storetest"
)

// startCluster starts a Redis Cluster of three masters, each a
// redis-server of the test's own, and returns a client of it.
func startCluster(t *testing.T) *redis.ClusterClient {
	t.Helper()
	var nodes []*server
	for range 3 {
		nodes = append(nodes, startServer(t,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var addrs []string
	for i, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr})
		defer c.Close()
		lo, hi := i*16384/3, (i+1)*16384/3-1
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE on %s: %v", n.Addr, err)
		}
		if i > 0 {
			host, port, _ := strings.Cut(n.Addr, ":")
			c0 := redis.NewClient(&redis.Options{Addr: nodes[0].Addr})
			err := c0.Do(ctx, "CLUSTER", "MEET", host, port).Err()
			c0.Close()
			if err != nil {
				t.Fatalf("CLUSTER MEET %s: %v", n.Addr, err)
			}
		}
		addrs = append(addrs, n.Addr)
	}
	// Wait until every node sees the whole cluster, all slots covered.
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr})
		defer c.Close()
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3") {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("cluster did not form within 60s: %s %v", info, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cc.Close() })
	return cc
}

func randomPrefix(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "cachiertest:" + hex.EncodeToString(b[:]) + ":"
}

// TestCluster runs the conformance suite on a three-master Redis Cluster
// and checks that the keys of one function share a slot while different
// functions spread over the masters.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	cc := startCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return redisstore.New(cc, redisstore.WithKeyPrefix(randomPrefix(t)))
	})

	t.Run("Wait", func(t *testing.T) {
		checkWaitWakes(t, cc, func(ctx context.Context, fn func(context.Context, *redis.Client) error) error {
			return cc.ForEachShard(ctx, fn)
		})
	})

	t.Run("Slots", func(t *testing.T) {
		ctx := context.Background()
		p := randomPrefix(t)
		s := redisstore.New(cc, redisstore.WithKeyPrefix(p))
		masters := map[string]bool{}
		for f := range 30 {
			fn := fmt.Sprintf("example.com/app.Service.F%d{odd}", f)
			for k := range 5 {
				key := fmt.Sprintf("%032x", k)
				if err := s.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Mark(ctx, fn, key, "o", time.Minute); err != nil {
					t.Fatal(err)
				}
			}
		}
		slots := map[string]map[int64]bool{} // hash tag -> slots of its keys
		var mu sync.Mutex                    // ForEachMaster calls in parallel
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			keys, err := node.Keys(ctx, p+"*").Result() // a test may use KEYS
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range keys {
				slot, err := node.ClusterKeySlot(ctx, k).Result()
				if err != nil {
					return err
				}
				tag := k[:strings.Index(k, "}")+1]
				if slots[tag] == nil {
					slots[tag] = map[int64]bool{}
				}
				slots[tag][slot] = true
				masters[node.Options().Addr] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(slots) != 30 {
			t.Errorf("%d hash tags for 30 functions", len(slots))
		}
		for tag, s := range slots {
			if len(s) != 1 {
				t.Errorf("keys of %s are in %d slots", tag, len(s))
			}
		}
		if len(masters) < 2 {
			t.Errorf("30 functions all on %d master(s)", len(masters))
		}
		// Clear finds the keys on whichever master holds them.
		for f := range 30 {
			if err := s.Clear(ctx, fmt.Sprintf("example.com/app.Service.F%d{odd}", f)); err != nil {
				t.Fatal(err)
			}
		}
		var left int
		_ = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			n := len(node.Keys(ctx, p+"*").Val())
			mu.Lock()
			left += n
			mu.Unlock()
			return nil
		})
		if left != 0 {
			t.Errorf("%d keys left after Clear of every function", left)
		}
	})
}

// TestRing runs the conformance suite on a Ring of two servers.
func TestRing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	a, b := startServer(t), startServer(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}})
	t.Cleanup(func() { ring.Close() })
	storetest.Run(t, func(t *testing.T) store.Store {
		return redisstore.New(ring, redisstore.WithKeyPrefix(randomPrefix(t)))
	})
	t.Run("Wait", func(t *testing.T) {
		checkWaitWakes(t, ring, ring.ForEachShard)
	})
}

// checkWaitWakes shows that a Wait through rdb subscribes (on whichever
// node it picks) and wakes at a Set of the key (published on whichever
// node the entry's slot or shard is). forEach visits every node.
func checkWaitWakes(t *testing.T, rdb redis.UniversalClient, forEach func(context.Context, func(context.Context, *redis.Client) error) error) {
	ctx := context.Background()
	p := randomPrefix(t)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	for i := range 8 { // several functions, so several slots or shards
		fn, key := fmt.Sprintf("f%d", i), "00000000000000000000000000000001"
		if ok, err := s.Mark(ctx, fn, key, "owner", time.Hour); err != nil || !ok {
			t.Fatalf("Mark = %v, %v", ok, err)
		}
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- s.Wait(ctx, fn, key) }()
		ch := channel(p, fn, key)
		for {
			var mu sync.Mutex
			var n int64
			err := forEach(ctx, func(ctx context.Context, node *redis.Client) error {
				m, err := node.PubSubNumSub(ctx, ch).Result()
				mu.Lock()
				n += m[ch]
				mu.Unlock()
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("Wait did not subscribe to %s within 5s", ch)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := s.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if el := time.Since(start); el >= redisstore.MaxWait {
			t.Errorf("Wait for %s returned after %v, not at the Set", fn, el)
		}
	}
}
