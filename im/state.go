package im

// imState holds the in-memory state of the feature files; each adds its fields here.
type imState struct{}
