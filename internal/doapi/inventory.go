package doapi

import (
	"context"
	"errors"
	"sort"
	"sync"
)

// Inventory is what firewall rules and policy entries can point at. Only
// what was asked for is loaded.
type Inventory struct {
	Droplets       []Droplet `json:"droplets"`
	DropletsLoaded bool      `json:"-"`
	Apps           []App     `json:"apps"`
	AppsLoaded     bool      `json:"-"`
	// K8s and Tags hold every id or name looked up; nil means it does not exist.
	K8s  map[string]*KubernetesCluster `json:"-"`
	Tags map[string]*Tag               `json:"-"`
}

// Needs says what to load: whole lists of Droplets and apps (there is no
// other way to look them up by name), and single Kubernetes clusters and
// tags by id or name (the API has no list of those we may use).
type Needs struct {
	Droplets bool
	Apps     bool
	K8s      []string
	Tags     []string
}

// LoadInventory fetches what needs asks for, a few requests at a time. A
// Kubernetes cluster or tag that does not exist is recorded as nil, not an error.
func (c *Client) LoadInventory(ctx context.Context, needs Needs) (*Inventory, error) {
	inv := &Inventory{K8s: map[string]*KubernetesCluster{}, Tags: map[string]*Tag{}}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 4)
		errs = map[int]error{}
	)
	jobs := []func(context.Context) error{}
	if needs.Droplets {
		jobs = append(jobs, func(ctx context.Context) error {
			ds, err := c.Droplets(ctx)
			mu.Lock()
			inv.Droplets, inv.DropletsLoaded = ds, err == nil
			mu.Unlock()
			return err
		})
	}
	if needs.Apps {
		jobs = append(jobs, func(ctx context.Context) error {
			as, err := c.Apps(ctx)
			mu.Lock()
			inv.Apps, inv.AppsLoaded = as, err == nil
			mu.Unlock()
			return err
		})
	}
	for _, id := range uniq(needs.K8s) {
		if !IsUUID(id) {
			inv.K8s[id] = nil // not an id: cannot exist
			continue
		}
		jobs = append(jobs, func(ctx context.Context) error {
			k, err := c.Kubernetes(ctx, id)
			if errors.Is(err, ErrNotFound) {
				k, err = nil, nil
			}
			mu.Lock()
			inv.K8s[id] = k
			mu.Unlock()
			return err
		})
	}
	for _, name := range uniq(needs.Tags) {
		if !ValidTagName(name) {
			inv.Tags[name] = nil
			continue
		}
		jobs = append(jobs, func(ctx context.Context) error {
			t, err := c.Tag(ctx, name)
			if errors.Is(err, ErrNotFound) {
				t, err = nil, nil
			}
			mu.Lock()
			inv.Tags[name] = t
			mu.Unlock()
			return err
		})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					errs[i] = errors.New("internal error while loading the inventory")
					mu.Unlock()
					cancel()
				}
			}()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				mu.Lock()
				errs[i] = ctx.Err()
				mu.Unlock()
				return
			}
			defer func() { <-sem }()
			if err := job(ctx); err != nil {
				mu.Lock()
				errs[i] = err
				mu.Unlock()
				cancel() // the first failure stops the rest
			}
		}()
	}
	wg.Wait()
	// Report the failure of the earliest job, so the error does not depend on timing;
	// a job stopped by that failure's cancellation is not the cause.
	keys := make([]int, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var first error
	for _, k := range keys {
		if !errors.Is(errs[k], context.Canceled) {
			return nil, errs[k]
		}
		if first == nil {
			first = errs[k]
		}
	}
	if first != nil {
		return nil, first
	}
	return inv, nil
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
