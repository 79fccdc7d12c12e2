package sqlite

// CompactRows lets tests make compaction's slices small.
var CompactRows = &compactRows
