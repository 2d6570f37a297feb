package duckstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckpointThreshold(t *testing.T) {
	tests := []struct {
		give string
		want int64
	}{
		{give: "", want: 64 << 20},
		{give: "256MB", want: 64e6},
		{give: "2GiB", want: 64 << 20},
		{give: "128MiB", want: 32 << 20},
		{give: "100 MB", want: 25e6},
		{give: "1.5MB", want: 1 << 20},
		{give: "64KB", want: 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, checkpointThreshold(tt.give))
		})
	}
}
