package cli

import "fmt"

// unifiedDiff writes the unified diff (3 lines of context) of two texts
// given as lines; nothing when they are equal. The edit script is a
// longest common subsequence by Myers' O(ND) algorithm, so a small change
// to a large configuration costs little.
func unifiedDiff(sink lineSink, nameA, nameB string, a, b []string) error {
	ops := myers(a, b)
	changed := false
	for _, o := range ops {
		if o.kind != ' ' {
			changed = true
			break
		}
	}
	if !changed {
		return nil
	}
	if err := sink.line("--- " + nameA); err != nil {
		return err
	}
	if err := sink.line("+++ " + nameB); err != nil {
		return err
	}
	const ctx = 3
	i := 0
	for i < len(ops) {
		for i < len(ops) && ops[i].kind == ' ' {
			i++
		}
		if i >= len(ops) {
			break
		}
		start := max(0, i-ctx)
		end := i
		for {
			for end < len(ops) && ops[end].kind != ' ' {
				end++
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' && run-end < 2*ctx {
				run++
			}
			if run < len(ops) && ops[run].kind != ' ' {
				end = run
				continue
			}
			end = min(len(ops), end+ctx)
			break
		}
		aStart, bStart, aLen, bLen := ops[start].ai, ops[start].bi, 0, 0
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				aLen++
			}
			if o.kind != '-' {
				bLen++
			}
		}
		if err := sink.line(fmt.Sprintf("@@ -%d,%d +%d,%d @@", aStart+1, aLen, bStart+1, bLen)); err != nil {
			return err
		}
		for _, o := range ops[start:end] {
			if err := sink.line(string(o.kind) + o.text); err != nil {
				return err
			}
		}
		i = end
	}
	return nil
}

type diffOp struct {
	kind   byte // ' ', '-', '+'
	text   string
	ai, bi int // positions in a and b before this line
}

func myers(a, b []string) []diffOp {
	n, m := len(a), len(b)
	maxD := n + m
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	found := false
	for d := 0; d <= maxD && !found; d++ {
		snap := make([]int, len(v))
		copy(snap, v)
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = true
				break
			}
		}
	}
	// Walk back through the snapshots (trace[d] is v before step d).
	var rev []diffOp
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		vv := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && vv[off+k-1] < vv[off+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := vv[off+prevK]
		prevY := prevX - prevK
		if d == 0 {
			prevX, prevY = 0, 0
		}
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, diffOp{' ', a[x], x, y})
		}
		if d > 0 {
			if x == prevX {
				y--
				rev = append(rev, diffOp{'+', b[y], x, y})
			} else {
				x--
				rev = append(rev, diffOp{'-', a[x], x, y})
			}
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, diffOp{' ', a[x], x, y})
	}
	out := make([]diffOp, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return out
}
