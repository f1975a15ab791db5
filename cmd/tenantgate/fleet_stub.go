package main

// Placeholders until the fleet commands land (issue 6): whoever adds
// migrate.go, import.go and backup.go deletes this file.

import (
	"context"
	"errors"
)

var errNotBuilt = errors.New("not available yet in this build")

func runMigrate(ctx context.Context, env *Env, args []string) error { return errNotBuilt }
func runImport(ctx context.Context, env *Env, args []string) error  { return errNotBuilt }
func runBackup(ctx context.Context, env *Env, args []string) error  { return errNotBuilt }
func runRestore(ctx context.Context, env *Env, args []string) error { return errNotBuilt }
