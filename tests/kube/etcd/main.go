// Command etcd is the etcd server of the test API server, built from the same Go module
// graph as kube-apiserver so both agree on every shared dependency.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
