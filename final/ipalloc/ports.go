// Node ports: one bitmap for the whole range, one bit per port, kept in the
// store as Kubernetes keeps it (a RangeAllocation) and changed only with
// compare-and-swap: read the bitmap and its revision, change it, write it
// back if the revision is still the same, else read it again.

package ipalloc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// NodePortsKey is where Kubernetes keeps the node ports' bitmap.
const NodePortsKey = "/registry/ranges/servicenodeports"

// Ports allocates node ports from one range.
type Ports struct {
	Backend storage.Backend
	Key     string // NodePortsKey
	Range   PortRange

	mu     sync.Mutex
	unused map[int]time.Time // Repair: since when a taken port has had no Service
}

// PortError is a port a client asked for that cannot be had: which one it
// was (its index in the request) and why.
type PortError struct {
	Index, Port int
	Err         error
}

func (e *PortError) Error() string { return fmt.Sprintf("port %d: %v", e.Port, e.Err) }
func (e *PortError) Unwrap() error { return e.Err }

// Allocate takes one port per entry of want: that port, or for 0 any free
// one. All are taken in one write, or none is. The ports asked for by number
// are taken first, so that a random pick never takes one of them.
func (p *Ports) Allocate(ctx context.Context, want []int) ([]int, error) {
	var got []int
	err := p.update(ctx, func(bits *big.Int) (bool, error) {
		var err error
		got, err = p.choose(bits, want)
		return true, err
	})
	return got, err
}

// Check is Allocate on a dry run: what Allocate would answer, taking nothing.
func (p *Ports) Check(ctx context.Context, want []int) ([]int, error) {
	bits, _, err := p.read(ctx)
	if err != nil {
		return nil, err
	}
	return p.choose(bits, want)
}

// Release gives ports back. Ports outside the range, or not taken, are no
// error.
func (p *Ports) Release(ctx context.Context, ports []int) error {
	return p.update(ctx, func(bits *big.Int) (bool, error) {
		changed := false
		for _, port := range ports {
			if i := port - p.Range.Base; p.Range.Contains(port) && bits.Bit(i) == 1 {
				bits.SetBit(bits, i, 0)
				changed = true
			}
		}
		return changed, nil
	})
}

// Taken lists the ports the bitmap holds, in order.
func (p *Ports) Taken(ctx context.Context) ([]int, error) {
	bits, _, err := p.read(ctx)
	if err != nil {
		return nil, err
	}
	var ports []int
	for i := range p.Range.Size {
		if bits.Bit(i) == 1 {
			ports = append(ports, p.Range.Base+i)
		}
	}
	return ports, nil
}

// Repair makes the bitmap agree with the ports Services hold. A port a
// Service holds is marked taken. A port marked taken that no Service holds
// is given back once it has been so for grace: a create in flight holds its
// ports a moment before its Service is stored, and a crash between the two
// leaves them taken for good. held is asked after the bitmap is read, so a
// port taken after that read makes the write lose its compare-and-swap, and
// this round changes nothing.
func (p *Ports) Repair(ctx context.Context, held func(context.Context) (map[int]bool, error), now time.Time, grace time.Duration) error {
	bits, rev, err := p.read(ctx)
	if err != nil {
		return err
	}
	holds, err := held(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.unused == nil {
		p.unused = map[int]time.Time{}
	}
	changed := false
	for i := range p.Range.Size {
		port := p.Range.Base + i
		switch {
		case holds[port]:
			delete(p.unused, port)
			if bits.Bit(i) == 0 {
				bits.SetBit(bits, i, 1)
				changed = true
			}
		case bits.Bit(i) == 0:
			delete(p.unused, port)
		case p.unused[port].IsZero():
			p.unused[port] = now
		case now.Sub(p.unused[port]) >= grace:
			bits.SetBit(bits, i, 0)
			delete(p.unused, port)
			changed = true
		}
	}
	p.mu.Unlock()
	if !changed {
		return nil
	}
	err = p.write(ctx, bits, rev)
	if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrKeyExists) {
		return nil // someone allocated meanwhile: next round
	}
	return err
}

// choose picks the ports of want on bits, in place.
func (p *Ports) choose(bits *big.Int, want []int) ([]int, error) {
	got := make([]int, len(want))
	for i, port := range want {
		if port == 0 {
			continue
		}
		if !p.Range.Contains(port) {
			return nil, &PortError{Index: i, Port: port, Err: &PortNotInRangeError{Range: p.Range}}
		}
		if bits.Bit(port-p.Range.Base) == 1 {
			return nil, &PortError{Index: i, Port: port, Err: ErrPortAllocated}
		}
		bits.SetBit(bits, port-p.Range.Base, 1)
		got[i] = port
	}
	for i, port := range want {
		if port != 0 {
			continue
		}
		offset, ok := p.next(bits)
		if !ok {
			return nil, ErrFull
		}
		bits.SetBit(bits, offset, 1)
		got[i] = p.Range.Base + offset
	}
	return got, nil
}

// next is a free port's offset: a random one of the dynamic band, or of
// the static band once the dynamic one is full.
func (p *Ports) next(bits *big.Int) (int, bool) {
	size := p.Range.Size
	static := int(staticBand(uint64(size), 16, 128, 32))
	for _, band := range [][2]int{{static, size - static}, {0, static}} {
		start, length := band[0], band[1]
		if length == 0 {
			continue
		}
		r := rand.IntN(length)
		for i := range length {
			if offset := start + (r+i)%length; bits.Bit(offset) == 0 {
				return offset, true
			}
		}
	}
	return 0, false
}

// rangeAllocation is the stored bitmap, in the shape of Kubernetes'
// RangeAllocation: the range it covers, and bit i set for port base+i.
type rangeAllocation struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Metadata   map[string]any `json:"metadata"`
	Range      string         `json:"range"`
	Data       []byte         `json:"data"`
}

// update changes the bitmap with compare-and-swap until a write wins.
// change reports whether it changed anything; if not, nothing is written.
func (p *Ports) update(ctx context.Context, change func(bits *big.Int) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		bits, rev, err := p.read(ctx)
		if err != nil {
			return err
		}
		changed, err := change(bits)
		if err != nil || !changed {
			return err
		}
		err = p.write(ctx, bits, rev)
		if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrKeyExists) {
			continue // another writer was first: again, on theirs
		}
		return err
	}
}

// read returns the bitmap over p.Range and its revision (0: not stored
// yet). A bitmap stored for another range (the flag changed) is moved
// over: ports of both ranges keep their bits, the others are dropped.
func (p *Ports) read(ctx context.Context) (*big.Int, int64, error) {
	kv, err := p.Backend.Get(ctx, p.Key)
	if errors.Is(err, storage.ErrNotFound) {
		return new(big.Int), 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var stored rangeAllocation
	if err := json.Unmarshal(kv.Value, &stored); err != nil {
		return nil, 0, fmt.Errorf("decoding %s: %w", p.Key, err)
	}
	bits := new(big.Int).SetBytes(stored.Data)
	if stored.Range == p.Range.String() {
		return bits, kv.ModRevision, nil
	}
	old, err := ParsePortRange(stored.Range)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", p.Key, err)
	}
	moved := new(big.Int)
	for i := range old.Size {
		if port := old.Base + i; bits.Bit(i) == 1 && p.Range.Contains(port) {
			moved.SetBit(moved, port-p.Range.Base, 1)
		}
	}
	return moved, kv.ModRevision, nil
}

// write stores bits if the stored bitmap is still at revision rev (0: if
// there is none yet).
func (p *Ports) write(ctx context.Context, bits *big.Int, rev int64) error {
	value, err := json.Marshal(rangeAllocation{Kind: "RangeAllocation", APIVersion: "v1",
		Metadata: map[string]any{}, Range: p.Range.String(), Data: bits.Bytes()})
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = p.Backend.Create(ctx, p.Key, value)
	} else {
		_, err = p.Backend.Update(ctx, p.Key, value, rev)
	}
	return err
}
