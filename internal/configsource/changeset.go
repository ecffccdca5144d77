package configsource

import (
	"crypto/md5"
	"encoding/hex"
	"time"
)

// Name is the source's name, in every ChangeSet it makes.
const Name = "nacos"

// ChangeSet is a config as the source reads and writes it: go-micro's ChangeSet, field
// for field, which each adapter copies to and from its own line's.
type ChangeSet struct {
	Data      []byte
	Checksum  string // Sum of Data
	Format    string // of Data: a configformat name; "" is JSON
	Source    string // Name, for a ChangeSet of this source
	Timestamp time.Time
}

// Sum is the checksum of the data as go-micro v3's ChangeSet.Sum computes it: the md5 of
// Data, in lower-case hex (the adapter's tests compare the two).
func (c *ChangeSet) Sum() string {
	sum := md5.Sum(c.Data)
	return hex.EncodeToString(sum[:])
}
