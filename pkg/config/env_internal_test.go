package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// No setting's variable has the name of a variable CheckEnv lets pass as
// set for another purpose: a typo of it would pass too.
func TestNoSettingLooksSetForAnotherPurpose(t *testing.T) {
	c := Default()
	for _, f := range fields(&c) {
		for _, name := range f.env {
			assert.False(t, notSetting(name), "%s (%s)", name, f.path)
			assert.False(t, serviceLink(name, "tcp://10.0.0.7:80"), "%s (%s)", name, f.path)
		}
	}
}
