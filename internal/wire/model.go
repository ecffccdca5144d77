package wire

// The plugin's model of a service, the same as go-micro's registry types in v3, v4 and
// v5 (field names and JSON tags), which each line's adapter translates to and from.
// Values the decoder hands out are shared by every reader and never modified: readers
// get translated copies.

// Service is one version of a service and its nodes.
type Service struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Metadata  map[string]string `json:"metadata"`
	Endpoints []*Endpoint       `json:"endpoints"`
	Nodes     []*Node           `json:"nodes"`
}

// Node is one instance of a service.
type Node struct {
	Id       string            `json:"id"` //lint:ignore ST1003 go-micro's field name
	Address  string            `json:"address"`
	Metadata map[string]string `json:"metadata"`
}

// Endpoint is a method a service serves.
type Endpoint struct {
	Name     string            `json:"name"`
	Request  *Value            `json:"request"`
	Response *Value            `json:"response"`
	Metadata map[string]string `json:"metadata"`
}

// Value describes a request or response type, and its fields.
type Value struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Values []*Value `json:"values"`
}
