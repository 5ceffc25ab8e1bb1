//! Saving: `save`, and its two halves `capture` (encode, under the
//! caller's lock) and `commit` (make durable, number, apply retention).

use super::*;

impl Checkpointer {
    /// Captures `state` and commits it: [`capture`](Self::capture) then
    /// [`commit`](Self::commit), with no other commit in between, so
    /// threads sharing a checkpointer can all `save`.
    ///
    /// On a store that writes values piece by piece (a [`DirStore`]'s
    /// temporary file; an object store's multipart upload, with
    /// `ObjectStore::s3` or `from_multipart_store`), `save` encodes
    /// straight into it, so the checkpoint is never whole in memory; it borrows `state` until the
    /// checkpoint is durable. An [incremental](Self::incremental) `save`
    /// does the same on any store, writing chunks as they are cut. To
    /// release a lock on the state sooner, use
    /// `capture` under the lock and `commit` after, at the price of holding
    /// the encoded checkpoint in memory in between.
    ///
    /// # Errors
    ///
    /// As `capture` and `commit`. A streamed save that the store fails
    /// returns [`Error::Store`] (there is no in-memory snapshot to hand
    /// back); older checkpoints are intact.
    pub fn save<T: Checkpoint>(&self, state: &T) -> Result<Meta> {
        observe::observe(Op::Save, observe::save_span(T::SCHEMA.name), || {
            self.save_unobserved(state)
        })
    }

    fn save_unobserved<T: Checkpoint>(&self, state: &T) -> Result<Meta> {
        let mut committed = self.lock_committed();
        let mut attempts = 0;
        let meta = loop {
            let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
            let streamed = if self.chunking.on {
                None
            } else {
                self.store.create_streamed(&keys::checkpoint(seq))?
            };
            let attempt = match streamed {
                None if self.chunking.on => self.save_chunked(&mut committed, state, seq),
                Some(pending) => self.save_streamed(&mut committed, state, seq, pending),
                None => self
                    .capture_at(state, seq)
                    .and_then(|snapshot| self.commit_locked(&mut committed, snapshot)),
            };
            match attempt {
                // Numbering has moved past what is in the way: the next
                // attempt takes a free number.
                Err(e @ Error::SequenceOccupied { .. }) if attempts < OCCUPIED_RETRIES => {
                    tracing::warn!("checkpoint saved under the next free number: {e}");
                    attempts += 1;
                }
                result => break result?,
            }
        };
        let victims = self.retention_victims(&mut committed);
        drop(committed);
        self.delete_old(victims);
        Ok(meta)
    }

    /// Encodes `state` as checkpoint `seq` into `pending` as it goes, then
    /// makes it durable.
    fn save_streamed<T: Checkpoint>(
        &self,
        committed: &mut Committed,
        state: &T,
        seq: u64,
        mut pending: Box<dyn PendingValue>,
    ) -> Result<Meta> {
        let key = keys::checkpoint(seq);
        let time = SystemTime::now();
        let location = self.store.location(&key);
        let mut out = crate::encode::ToPending(&mut *pending);
        let size =
            crate::encode::encode_to(state, &mut out, &location, seq, time, self.compression)?;
        match pending.persist() {
            Ok(()) => {
                committed.newest = seq;
                committed.known.insert(seq);
                Ok(Meta {
                    seq,
                    time,
                    size,
                    type_name: T::SCHEMA.name.to_owned(),
                    key,
                    location,
                    skipped: Vec::new(),
                })
            }
            Err(StoreError::AlreadyExists { location }) => {
                // Only the prefix of what is in the way is read.
                let in_the_way = match self.store.get_prefix(&key, format::PREFIX_LEN) {
                    Ok(Some(prefix)) if format::prefix_seq(&prefix) == Some(seq) => None,
                    Ok(Some(prefix)) if prefix.is_empty() => Some("it is an empty file".to_owned()),
                    Ok(Some(_)) => Some(format!("it does not start like checkpoint #{seq}")),
                    Ok(None) => Some("it was removed while this save ran".to_owned()),
                    Err(StoreError::Unreadable { reason, .. }) => Some(reason),
                    Err(source) => return Err(Error::Store(source)),
                };
                Err(self.collision(committed, seq, location, in_the_way)?)
            }
            Err(e) => Err(Error::Store(e)),
        }
    }

    /// Encodes `state` as incremental checkpoint `seq`, its chunks stored
    /// as they are cut, then commits its manifest.
    fn save_chunked<T: Checkpoint>(
        &self,
        committed: &mut Committed,
        state: &T,
        seq: u64,
    ) -> Result<Meta> {
        let key = keys::checkpoint(seq);
        let time = SystemTime::now();
        let location = self.store.location(&key);
        let damaged = self.heal.pending();
        let plan = incremental::stream::Plan {
            seq,
            time,
            compression: self.compression,
            lease_time: self.chunking.lease,
            earlier: incremental::stored::Earlier::Checkpoint,
            damaged: &damaged,
        };
        let streamed = incremental::stream::write_chunks(&*self.store, state, &plan, &location)?;
        let Some(streamed) = streamed else {
            // A head too long to stream: cut the checkpoint whole.
            return self
                .capture_at(state, seq)
                .and_then(|snapshot| self.commit_locked(committed, snapshot));
        };
        tracing::debug!(
            seq,
            chunk_bytes_written = streamed.written,
            "incremental checkpoint's chunks stored"
        );
        let manifest = Snapshot {
            meta: Meta {
                seq,
                time,
                size: streamed.total_len,
                type_name: T::SCHEMA.name.to_owned(),
                key,
                location,
                skipped: Vec::new(),
            },
            bytes: streamed.manifest,
        };
        // The intent is dropped (deleted) only once the manifest is
        // committed, so no sweep deletes a chunk it lists.
        let committed_manifest = self.commit_value(committed, manifest);
        drop(streamed.intent);
        if committed_manifest.is_ok() {
            self.heal.healed(&damaged);
        }
        match committed_manifest {
            // No snapshot to hand back: the state was never whole.
            Err(Error::Commit { source, .. }) => Err(Error::Store(source)),
            result => result,
        }
    }

    /// Encodes `state` and gives it the next sequence number. The only step
    /// that reads the state: hold the state's lock for this alone, and
    /// [`commit`](Self::commit) after releasing it.
    ///
    /// # Errors
    ///
    /// [`Error::FieldEncode`] when a field fails to encode; its sequence
    /// number is then never used.
    pub fn capture<T: Checkpoint>(&self, state: &T) -> Result<Snapshot> {
        self.capture_at(state, self.next_seq.fetch_add(1, Ordering::SeqCst))
    }

    /// [`capture`](Self::capture) under a number already taken, observed as
    /// a capture (inside a `save` too).
    fn capture_at<T: Checkpoint>(&self, state: &T, seq: u64) -> Result<Snapshot> {
        observe::observe(Op::Capture, observe::capture_span(T::SCHEMA.name), || {
            self.capture_as(state, seq)
        })
    }

    fn capture_as<T: Checkpoint>(&self, state: &T, seq: u64) -> Result<Snapshot> {
        let time = SystemTime::now();
        let mut bytes = Vec::with_capacity(self.size_hint.load(Ordering::Relaxed));
        crate::encode::encode(state, &mut bytes, seq, time, self.compression)?;
        self.size_hint.store(bytes.len(), Ordering::Relaxed);
        let key = keys::checkpoint(seq);
        Ok(Snapshot {
            meta: Meta {
                seq,
                time,
                size: bytes.len() as u64,
                type_name: T::SCHEMA.name.to_owned(),
                location: self.store.location(&key),
                key,
                skipped: Vec::new(),
            },
            bytes,
        })
    }

    /// Makes `snapshot` durable, then applies retention.
    ///
    /// # Errors
    ///
    /// - [`Error::OlderCapture`] when a snapshot captured later is already
    ///   committed: an older capture never becomes the latest.
    /// - [`Error::SequenceTaken`] when another process committed this
    ///   sequence number first; capture again (numbering has moved on).
    ///   Committing a snapshot whose bytes are already stored under its
    ///   number (a retry of a write that landed although the store reported
    ///   a failure) succeeds instead.
    /// - [`Error::SequenceOccupied`] when something that is not a checkpoint
    ///   (a directory, an empty file) has this sequence number's name;
    ///   capture again (numbering has moved past it). [`save`](Self::save)
    ///   does so itself.
    /// - [`Error::Commit`] when the store fails (a full disk, say); older
    ///   checkpoints are intact and the error hands the snapshot back.
    pub fn commit(&self, snapshot: Snapshot) -> Result<Meta> {
        let span = observe::commit_span(snapshot.seq());
        observe::observe(Op::Commit, span, || self.commit_unobserved(snapshot))
    }

    pub(crate) fn commit_unobserved(&self, snapshot: Snapshot) -> Result<Meta> {
        let mut committed = self.lock_committed();
        let meta = self.commit_locked(&mut committed, snapshot)?;
        let victims = self.retention_victims(&mut committed);
        drop(committed);
        self.delete_old(victims);
        Ok(meta)
    }

    /// For a commit that writes outside the commit lock: refuses `seq` when
    /// a newer checkpoint is committed already, as a commit does.
    #[cfg(all(feature = "tokio", feature = "object-store"))]
    pub(crate) fn check_not_older(&self, seq: u64) -> Result<()> {
        let newest = self.lock_committed().newest;
        if seq < newest {
            return Err(Error::OlderCapture { seq, newest });
        }
        Ok(())
    }

    /// For a commit that wrote checkpoint `seq` outside the commit lock:
    /// records it, and returns what retention now deletes (give back what
    /// was not deleted with [`Checkpointer::not_deleted`]).
    #[cfg(all(feature = "tokio", feature = "object-store"))]
    pub(crate) fn written(&self, seq: u64) -> Vec<u64> {
        let mut committed = self.lock_committed();
        committed.newest = committed.newest.max(seq);
        committed.known.insert(seq);
        self.retention_victims(&mut committed)
    }

    /// Retention victims whose deletion never ran: the next commit's
    /// retention deletes them.
    #[cfg(all(feature = "tokio", feature = "object-store"))]
    pub(crate) fn not_deleted(&self, seqs: &[u64]) {
        self.lock_committed().known.extend(seqs);
    }

    fn commit_locked(&self, committed: &mut Committed, snapshot: Snapshot) -> Result<Meta> {
        if !self.chunking.on {
            return self.commit_value(committed, snapshot);
        }
        if snapshot.seq() < committed.newest {
            return Err(Error::OlderCapture {
                seq: snapshot.seq(),
                newest: committed.newest,
            });
        }
        let damaged = self.heal.pending();
        let prepared = incremental::writer::prepare(
            &*self.store,
            &snapshot.bytes,
            snapshot.seq(),
            self.chunking.lease,
            incremental::stored::Earlier::Checkpoint,
            &damaged,
        );
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(source) => {
                return Err(Error::Commit {
                    snapshot: Box::new(snapshot),
                    source,
                })
            }
        };
        tracing::debug!(
            seq = snapshot.seq(),
            chunk_bytes_written = prepared.written,
            "incremental checkpoint's chunks stored"
        );
        let manifest = Snapshot {
            meta: snapshot.meta.clone(),
            bytes: prepared.manifest,
        };
        // The manifest commits like any checkpoint; the intent is dropped
        // (deleted) only after, so no sweep deletes a chunk it lists.
        let committed_manifest = self.commit_value(committed, manifest);
        drop(prepared.intent);
        if committed_manifest.is_ok() {
            self.heal.healed(&damaged);
        }
        match committed_manifest {
            // Handed back whole: committing it again cuts it again.
            Err(Error::Commit { source, .. }) => Err(Error::Commit {
                snapshot: Box::new(snapshot),
                source,
            }),
            result => result,
        }
    }

    /// Commits `snapshot`'s bytes, a checkpoint or a manifest, under its key.
    fn commit_value(&self, committed: &mut Committed, snapshot: Snapshot) -> Result<Meta> {
        let seq = snapshot.seq();
        if seq < committed.newest {
            return Err(Error::OlderCapture {
                seq,
                newest: committed.newest,
            });
        }
        let Snapshot { meta, bytes } = snapshot;
        let (location, bytes) = match self.store.put_if_absent_owned(&meta.key, bytes) {
            Ok(()) => {
                committed.newest = seq;
                committed.known.insert(seq);
                return Ok(meta);
            }
            Err((StoreError::AlreadyExists { location }, bytes)) => (location, bytes),
            Err((source, bytes)) => {
                return Err(Error::Commit {
                    snapshot: Box::new(Snapshot { meta, bytes }),
                    source,
                })
            }
        };
        // A write that landed can still be reported as failed (the file is
        // linked but the directory sync failed, or a conditional PUT timed
        // out after it was applied): the retry then finds the key. If it
        // holds our bytes, this commit is done; a checkpoint of this number
        // means another writer; anything else is in the way. Nothing longer
        // than our bytes is read.
        let in_the_way = match self.store.get_at_most(&meta.key, bytes.len() as u64) {
            Ok(Some(existing)) if *existing == bytes => {
                committed.newest = committed.newest.max(seq);
                committed.known.insert(seq);
                return Ok(meta);
            }
            Ok(Some(existing)) if format::prefix_seq(&existing) == Some(seq) => None,
            Ok(Some(existing)) if existing.is_empty() => Some("it is an empty file".to_owned()),
            Ok(Some(existing)) => Some(format!(
                "its {} bytes do not start like checkpoint #{seq}",
                existing.len()
            )),
            Err(StoreError::TooLarge { len, .. }) => {
                match self.store.get_prefix(&meta.key, format::PREFIX_LEN) {
                    Ok(Some(prefix)) if format::prefix_seq(&prefix) == Some(seq) => None,
                    _ => Some(format!(
                        "its {len} bytes do not start like checkpoint #{seq}"
                    )),
                }
            }
            Err(StoreError::Unreadable { reason, .. }) => Some(reason),
            // Gone again: a retry of the snapshot can succeed.
            Ok(None) => {
                return Err(Error::Commit {
                    snapshot: Box::new(Snapshot { meta, bytes }),
                    source: StoreError::AlreadyExists { location },
                })
            }
            Err(source) => {
                return Err(Error::Commit {
                    snapshot: Box::new(Snapshot { meta, bytes }),
                    source,
                })
            }
        };
        Err(self.collision(committed, seq, location, in_the_way)?)
    }

    /// After checkpoint `seq` found its key taken: numbering moves past
    /// everything now in the store, and the error says whether another
    /// writer's checkpoint (`in_the_way` is `None`) or something else holds
    /// the key.
    fn collision(
        &self,
        committed: &mut Committed,
        seq: u64,
        location: String,
        in_the_way: Option<String>,
    ) -> Result<Error> {
        let numbering = Numbering::of(&*self.store)?;
        let next = numbering.next_above(seq.max(committed.newest));
        self.next_seq.fetch_max(next, Ordering::SeqCst);
        committed.newest = committed.newest.max(numbering.newest);
        committed.known.extend(numbering.known());
        Ok(match in_the_way {
            None => Error::SequenceTaken { seq, location },
            Some(reason) => Error::SequenceOccupied {
                seq,
                location,
                reason,
            },
        })
    }
}
