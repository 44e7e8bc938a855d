// Command etcd is the stock etcd server, built from the pinned
// go.etcd.io/etcd/server/v3 module so that envtest needs no release download.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
