// Package watcher is the first stage of the pipeline: it turns a folder into
// FileDiscovered and FileDeleted events on the files stream, with each file's
// bytes in the JetStream object store, so that workers on other machines need
// no shared filesystem.
//
// Scan makes one pass over the folder (the one-shot ingest); Run scans once,
// then follows fsnotify events plus a periodic rescan and publishes a file
// only after its size and modification time have stayed the same for
// Config.Settle.
//
// # Publishing one file version
//
// The file is hashed (SHA-256) and, when the hash differs from the one last
// published for its path, streamed into the object store (bus.BucketFiles)
// while its SHA-256 is computed again; the upload is kept only if both hashes
// and the file's size and mtime before and after agree. The object is named
// "<path>@<sha256>" (a path over 1 KiB by its hash, see ObjectName), so a
// version a parser is still reading is never overwritten by the next one.
// Then FileDiscovered is published on event.SubjectFileDiscovered with the
// headers Correlation-ID (the first 24
// hex digits of sha256(path + "\x00" + sha256), the same for the same bytes
// at the same path), Nats-Msg-Id ("file:<path>:<sha256>") and the type and
// version headers, and finally the state of the path is recorded in the
// bus.BucketWatcher key-value bucket. The same bytes at the same path are
// never published twice, also across restarts; a file whose mtime changed but
// whose bytes did not is Unchanged (its recorded mtime is updated quietly).
// A scan does not read again a file whose size and mtime both match the
// record, so a rewrite that restores both is not noticed by scans (as with
// rsync's quick check); Run reads a file again after an event that may have
// changed its bytes (a write, or a file created or moved there), so that
// bytes replaced behind the same size and mtime (cp -p, rsync -t, an archive
// extracted over the folder) are published.
//
// Object retention: the objects of the last two versions of a path are kept
// (the current one and the one before it, for a parser that is still
// reading it); older ones are deleted when a newer version is published. When
// a path is deleted, FileDeleted is published, its objects are deleted and
// its record becomes a tombstone holding the event's sequence, kept for
// twice the stream's duplicate window (see below). A parser that finds the object of a FileDiscovered event missing
// is therefore looking at a superseded version: a newer event for the same
// path follows.
//
// A version published again within the stream's duplicate window after a
// different version of the same path (A, B, then A again) would be dropped
// by JetStream's deduplication; the watcher notices this from the PubAck and
// republishes with the Nats-Msg-Id "file:<path>:<sha256>:after:<seq>", still
// deterministic, so a retry after a crash is deduplicated as well. Deletions
// are handled the same way ("deleted:<path>:<sha256>[:after:<seq>]").
//
// # What is ignored
//
// Hidden files and directories (a name starting with ".", and the files
// operating systems hide otherwise: Thumbs.db, ehthumbs.db, desktop.ini and
// macOS' "Icon\r", in any case), editor and partial files (*.swp, *.swx,
// ~$*, *~, #*#, *.part, *.tmp, *.crdownload, .#*), names or relative paths
// matching a Config.Ignore pattern (a pattern that matches a directory
// skips the whole directory), the Config.Exclude
// directories (docgraph's data directory inside the folder), files of a
// format not in Config.Formats (docgraph reads no images or archives: they
// are not stored to be dead-lettered), symlinks whose
// target leaves the folder, files larger than Config.MaxFileSize, names that
// are not valid UTF-8 (events and state are JSON, which cannot carry them
// unchanged) and anything that is not a regular file. Symlinks to regular
// files inside the folder are followed and published under the link's own
// path (Run publishes a link again, or withdraws it, when its target
// changes or goes); symlinks to directories are not followed (the directory
// is inside the folder and watched anyway).
// Each ignored path is logged and counted once, not on every rescan.
//
// A recorded path is withdrawn (FileDeleted) when a scan finds nothing there
// that the watcher accepts. It is kept when the file is there but could not
// be read, was still changing, or has grown over the size limit: the last
// published version then stays.
//
// # Several folders in one bucket
//
// Each record names the folder its version was published from (absolute,
// symlinks resolved), and a scan, a deleted file or a deleted directory
// withdraws only the paths of its own folder: folders ingested one after the
// other into the same data, or an ingested folder and a watched one, keep
// each other's files. Records written before folders were recorded belong to
// any folder (a scan that finds such a file unchanged records its folder).
// Paths stay relative to their folder, so ingesting a folder and watching it
// give the same keys; two folders holding the same relative path share its
// record and its document, and the later publication wins both (a scan never
// treats another folder's record as unchanged). The first scan logs which
// other folders the bucket holds live files of; their files are removed from
// the graph only by a scan of their own folder once it is empty.
package watcher
