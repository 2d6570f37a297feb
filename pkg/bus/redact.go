package bus

import (
	"net/url"
	"strings"
)

// redactURL hides passwords and tokens in a (comma-separated) NATS URL list.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// RedactURL hides passwords and tokens in a (comma-separated) NATS URL list,
// for logging a configured URL.
func RedactURL(s string) string { return redactURL(s) }
