// Command pause is the process of every pod sandbox on the test node of
// hack/cluster.sh: it holds the pod's namespaces, reaps the zombies of the
// pod's processes and exits on SIGINT or SIGTERM. No registry is reachable
// from the test machines, so the image is built here rather than pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
