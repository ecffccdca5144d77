// Package fleet holds the mixed-fleet tests: services of go-micro v3, v4 and v5, each
// through its own line of this plugin, in one Nacos namespace, see each other. The
// three lines cannot share a module without each line's users downloading the others,
// so the tests live in this module of their own, which requires all three and which
// nobody imports. It runs against the embedded nacostest server, or against the real
// Nacos at NACOS_ADDR.
package fleet
