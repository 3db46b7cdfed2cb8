package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// API keys the metadata mode asks, when the target supports them.
const (
	keyFindCoordinator = 10
	keyDescribeCluster = 60
)

// coordinatorKey is the group and transactional id FindCoordinator asks about;
// the answer names a broker whether or not the group exists.
const coordinatorKey = "airlock-probe"

// maxCoordinatorAttempts bounds retries of a coordinator that is still loading.
const maxCoordinatorAttempts = 10

// ErrUnreachable is returned by Metadata mode when an address the target handed
// out does not answer.
var ErrUnreachable = errors.New("advertised address unreachable")

// askMetadata collects every broker address target hands out, then checks that
// each one answers.
func askMetadata(ctx context.Context, target string, cfg config) ([]Endpoint, error) {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(target),
		kgo.DialTimeout(cfg.timeout),
		kgo.RequestRetries(0),
	}, cfg.kgoOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", target, err)
	}
	defer cl.Close()
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return nil, fmt.Errorf("no seed broker for %s", target)
	}
	// Every request goes to the target itself: the question is what this
	// address tells its clients, not what some other broker would.
	seed := seeds[0]
	ask := func(req kmsg.Request) (kmsg.Response, error) {
		rctx, cancel := context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
		resp, err := seed.Request(rctx, req)
		if err != nil {
			return nil, fmt.Errorf("%s to %s: %w", kmsg.NameForKey(req.Key()), target, err)
		}
		return resp, nil
	}

	avReq := kmsg.NewPtrApiVersionsRequest()
	// v3+ brokers refuse an empty client name as INVALID_REQUEST.
	avReq.ClientSoftwareName, avReq.ClientSoftwareVersion = "airlock-probe", "1"
	resp, err := ask(avReq)
	if err != nil {
		return nil, err
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if err := kerr.ErrorForCode(av.ErrorCode); err != nil {
		return nil, fmt.Errorf("ApiVersions to %s: %w", target, err)
	}
	maxVersion := make(map[int16]int16, len(av.ApiKeys))
	for _, k := range av.ApiKeys {
		maxVersion[k.ApiKey] = k.MaxVersion
	}

	// Nil topics asks for every topic (v1+; v0 reads an empty list so).
	resp, err = ask(kmsg.NewPtrMetadataRequest())
	if err != nil {
		return nil, err
	}
	var eps []Endpoint
	for _, b := range resp.(*kmsg.MetadataResponse).Brokers {
		eps = append(eps, endpoint("Metadata", b.NodeID, b.Host, b.Port))
	}

	if v, ok := maxVersion[keyFindCoordinator]; ok {
		types := []int8{0} // group
		if v >= 1 {
			types = append(types, 1) // transaction
		}
		for _, typ := range types {
			found, err := findCoordinator(ctx, ask, typ)
			if err != nil {
				return eps, err
			}
			eps = append(eps, found...)
		}
	}

	if _, ok := maxVersion[keyDescribeCluster]; ok {
		resp, err := ask(kmsg.NewPtrDescribeClusterRequest())
		if err != nil {
			return eps, err
		}
		dc := resp.(*kmsg.DescribeClusterResponse)
		if err := kerr.ErrorForCode(dc.ErrorCode); err != nil {
			return eps, fmt.Errorf("DescribeCluster to %s: %w", target, err)
		}
		for _, b := range dc.Brokers {
			eps = append(eps, endpoint("DescribeCluster", b.NodeID, b.Host, b.Port))
		}
	}
	return eps, checkReachable(ctx, eps, cfg)
}

func endpoint(api string, node int32, host string, port int32) Endpoint {
	return Endpoint{API: api, NodeID: node, Addr: net.JoinHostPort(host, strconv.Itoa(int(port)))}
}

// findCoordinator asks for the coordinator of coordinatorKey, retrying while
// the broker says it is not available yet.
func findCoordinator(ctx context.Context, ask func(kmsg.Request) (kmsg.Response, error), typ int8) ([]Endpoint, error) {
	api := "FindCoordinator(group)"
	if typ == 1 {
		api = "FindCoordinator(transaction)"
	}
	var last error
	for attempt := range maxCoordinatorAttempts {
		if attempt > 0 {
			t := time.NewTimer(250 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("%s: %w (last: %v)", api, ctx.Err(), last)
			case <-t.C:
			}
		}
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = coordinatorKey // v0-3
		req.CoordinatorKeys = []string{coordinatorKey}
		req.CoordinatorType = typ
		resp, err := ask(req)
		if err != nil {
			return nil, err
		}
		fc := resp.(*kmsg.FindCoordinatorResponse)
		// v4+ answers per key in Coordinators, earlier versions at the top level.
		var eps []Endpoint
		if len(fc.Coordinators) > 0 {
			for _, c := range fc.Coordinators {
				if last = kerr.ErrorForCode(c.ErrorCode); last != nil {
					break
				}
				eps = append(eps, endpoint(api, c.NodeID, c.Host, c.Port))
			}
		} else {
			last = kerr.ErrorForCode(fc.ErrorCode)
			if last == nil {
				eps = append(eps, endpoint(api, fc.NodeID, fc.Host, fc.Port))
			}
		}
		if last == nil {
			return eps, nil
		}
		if !kerr.IsRetriable(last) {
			return nil, fmt.Errorf("%s: %w", api, last)
		}
	}
	return nil, fmt.Errorf("%s: %w after %d attempts", api, last, maxCoordinatorAttempts)
}

// checkReachable asks every distinct address for its API versions, with the
// probe's TLS and SASL: an address handed out but not served is as broken as a
// wrong one.
func checkReachable(ctx context.Context, eps []Endpoint, cfg config) error {
	results := make(map[string]error)
	bad := 0
	for i := range eps {
		addr := eps[i].Addr
		err, done := results[addr]
		if !done {
			err = askKafka(ctx, addr, cfg)
			results[addr] = err
			if err != nil {
				bad++
			}
		}
		eps[i].Reachable = err == nil
		if err != nil {
			eps[i].Error = err.Error()
		}
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d distinct addresses", ErrUnreachable, bad, len(results))
	}
	return nil
}
