package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"time"
)

// kubectl runs kubectl as the cluster's admin and prints the command and its output.
func kubectl(ctx context.Context, cl *cluster, con *console, args ...string) error {
	con.Blank()
	con.Lines("    ", "$ kubectl "+strings.Join(args, " "))
	if cl.kubectl == "" {
		con.Say("(skipped: no kubectl on PATH nor in the binaries directory)")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cl.kubectl, args...)
	cmd.Env = os.Environ()
	if cl.adminKubeconfig != "" {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+cl.adminKubeconfig)
	}
	out, err := cmd.CombinedOutput()
	con.Lines("    ", string(out))
	return err
}
