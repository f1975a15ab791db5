package bank

import (
	"context"
	"testing"
)

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword(context.Background(), "correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
}
