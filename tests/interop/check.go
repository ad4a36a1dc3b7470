// An outside check of caseledger's checkpoints and proofs with Go's own
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, unmodified (Debian's
// golang-golang-x-mod-dev; no module download):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run tests/interop/check.go VKEY CHECKPOINT INCLUSION.json CONSISTENCY.json EXPORT.jsonl
//
// It verifies the checkpoint's signature with the log's verifier key, recomputes the
// tree from the events' hashes in the export (tlog.StoredHashes, tlog.TreeHash) and
// compares its roots with the checkpoint's and the consistency proof's old root, then
// checks an inclusion proof against the checkpoint's root and a consistency proof from
// the older tree to it; exit 0, and any that does not verify is exit 1, naming it. A
// tampered input must therefore fail.
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index  int64    `json:"index"`
	Size   int64    `json:"size"`
	Leaf   string   `json:"leaf"`
	Root   string   `json:"root"`
	Hashes []string `json:"hashes"`
}

type consistency struct {
	Old     int64    `json:"old"`
	Size    int64    `json:"size"`
	OldRoot string   `json:"old_root"`
	Root    string   `json:"root"`
	Hashes  []string `json:"hashes"`
}

// memoryHashes is a tlog.HashReader over hashes kept in memory.
type memoryHashes map[int64]tlog.Hash

func (m memoryHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := m[x]
		if !ok {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = h
	}
	return out, nil
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(1)
}

func hashes(list []string) []tlog.Hash {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := tlog.ParseHash(s)
		if err != nil {
			fail("proof hash %d: %v", i, err)
		}
		out[i] = h
	}
	return out
}

func main() {
	if len(os.Args) != 6 {
		fail("usage: check VKEY CHECKPOINT INCLUSION.json CONSISTENCY.json EXPORT.jsonl")
	}
	vkey, cpFile, incFile, conFile := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	msg, err := os.ReadFile(cpFile)
	if err != nil {
		fail("%v", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != verifier.Name() {
		fail("checkpoint: not a checkpoint of %s", verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("checkpoint root: %v", err)
	}

	var inc inclusion
	raw, _ := os.ReadFile(incFile)
	if err := json.Unmarshal(raw, &inc); err != nil {
		fail("inclusion proof: %v", err)
	}
	if inc.Size != size || inc.Root != lines[2] {
		fail("inclusion proof: made for tree %d %s, the checkpoint is %d %s", inc.Size, inc.Root, size, lines[2])
	}
	leaf, err := hex.DecodeString(inc.Leaf)
	if err != nil || len(leaf) != 32 {
		fail("inclusion proof: the leaf is not 64 hex digits")
	}
	if err := tlog.CheckRecord(hashes(inc.Hashes), size, root, inc.Index, tlog.RecordHash(leaf)); err != nil {
		fail("inclusion proof of event %d: %v", inc.Index+1, err)
	}

	var con consistency
	raw, _ = os.ReadFile(conFile)
	if err := json.Unmarshal(raw, &con); err != nil {
		fail("consistency proof: %v", err)
	}
	oldRoot, err := tlog.ParseHash(con.OldRoot)
	if err != nil {
		fail("consistency proof: old root: %v", err)
	}
	if con.Size != size || con.Root != lines[2] {
		fail("consistency proof: made for tree %d, the checkpoint is %d", con.Size, size)
	}
	// The tree of the export's events, built by tlog itself.
	stored := memoryHashes{}
	export, err := os.Open(os.Args[5])
	if err != nil {
		fail("%v", err)
	}
	scanner := bufio.NewScanner(export)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	var count int64
	for scanner.Scan() {
		var ev struct {
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(scanner.Bytes(), &ev); err != nil {
			fail("export line %d: %v", count+1, err)
		}
		h, err := hex.DecodeString(ev.Hash)
		if err != nil || len(h) != 32 {
			fail("export line %d: the hash is not 64 hex digits", count+1)
		}
		more, err := tlog.StoredHashes(count, h, stored)
		if err != nil {
			fail("export line %d: %v", count+1, err)
		}
		for i, sh := range more {
			stored[tlog.StoredHashIndex(0, count)+int64(i)] = sh
		}
		count++
	}
	if count < size {
		fail("the export holds %d events, the checkpoint %d", count, size)
	}
	for _, t := range []struct {
		size int64
		want tlog.Hash
		what string
	}{{size, root, "the checkpoint's root"}, {con.Old, oldRoot, "the consistency proof's old root"}} {
		got, err := tlog.TreeHash(t.size, stored)
		if err != nil {
			fail("tree of %d: %v", t.size, err)
		}
		if got != t.want {
			fail("the tree of the export's first %d events is %v, not %s %v", t.size, got, t.what, t.want)
		}
	}
	if err := tlog.CheckTree(hashes(con.Hashes), size, root, con.Old, oldRoot); err != nil {
		fail("consistency proof from %d to %d: %v", con.Old, size, err)
	}
	fmt.Printf("go sumdb/note and sumdb/tlog: the checkpoint of %s at size %d is signed by its key and is the tree of the export's events; event %d is in it; the tree of %d is its prefix\n",
		verifier.Name(), size, inc.Index+1, con.Old)
}
