// Command etcd runs the etcd server; it exists so the local control plane can
// build etcd from the Go module proxy (see tools/build.sh).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
