//! Restoring: `restore_latest` (falling back past damage), `restore`, and
//! the checkpointer's reading of one checkpoint, which hands its bytes to
//! the one decode path, [`crate::restore::load_value`].

use super::*;
use crate::restore::{load_value, Fallback, Next, LISTINGS};
use crate::snapshot::Restored;
use crate::store::ValueReader;

impl Checkpointer {
    /// Restores the newest checkpoint; `None` when the store holds none.
    ///
    /// A damaged newest checkpoint (corrupt, truncated) or an entry under a
    /// checkpoint's name that the store cannot read (a directory, a FIFO, a
    /// symbolic link, a file this process may not read) is skipped for the
    /// newest valid one; what was skipped is in [`Meta::skipped`] and
    /// logged as a `tracing` warning. Reads the newest checkpoint only, plus
    /// the older ones a fallback needs, and never more bytes than a
    /// checkpoint's prefix declares.
    ///
    /// `None` means the store holds no checkpoint. When a checkpoint it
    /// listed is deleted before it is read (another process's retention
    /// removes it once newer ones exist), the store is listed again, never
    /// fallen back past. On an object store, a save's claim of its key (the
    /// checkpoint's first 4 KiB, there while its upload completes, or for
    /// good if the saver died then) is passed over and is no checkpoint:
    /// alone, it makes `None` (`docs/FORMAT.md`, "Writing in bounded
    /// memory").
    ///
    /// # Errors
    ///
    /// Schema errors ([`Error::MissingField`], [`Error::UnexpectedField`],
    /// [`Error::FieldTypeChanged`], [`Error::WrongType`], ...) are returned,
    /// not skipped: they mean the type changed, not that the data is bad.
    /// When every checkpoint is damaged, the newest one's error.
    /// [`Error::Vanished`] when, 64 listings in a row, every checkpoint
    /// listed was deleted before it could be read. [`Error::Store`] when the
    /// store fails, or its directory no longer exists.
    pub fn restore_latest<T: Checkpoint<Context = ()>>(&self) -> Result<Option<Restored<T>>> {
        self.restore_latest_with(&())
    }

    /// [`restore_latest`](Self::restore_latest) for a type whose derived
    /// fields need a context.
    ///
    /// # Errors
    ///
    /// As [`restore_latest`](Self::restore_latest).
    pub fn restore_latest_with<T: Checkpoint>(
        &self,
        context: &T::Context,
    ) -> Result<Option<Restored<T>>> {
        let span = observe::restore_latest_span(T::SCHEMA.name);
        observe::observe(Op::RestoreLatest, span, || {
            self.restore_latest_unobserved(context)
        })
    }

    fn restore_latest_unobserved<T: Checkpoint>(
        &self,
        context: &T::Context,
    ) -> Result<Option<Restored<T>>> {
        let mut fallback = Fallback::new(crate::store::is_object_store(&*self.store));
        for _ in 0..LISTINGS {
            let mut again = false;
            for (seq, key) in self.keys()?.into_iter().rev() {
                if fallback.tried(seq) {
                    continue;
                }
                let restored = self.load(seq, &key, context);
                match fallback.after(seq, self.store.location(&key), restored) {
                    Next::Done(outcome) => return outcome,
                    Next::ListAgain => {
                        again = true;
                        break;
                    }
                    Next::Older => {}
                }
            }
            if !again {
                return fallback.none_restored();
            }
        }
        Err(Error::Vanished {
            attempts: LISTINGS,
            location: self.store.location(""),
        })
    }

    /// Restores checkpoint `seq`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when there is no such checkpoint; any damage or
    /// schema error it has.
    pub fn restore<T: Checkpoint<Context = ()>>(&self, seq: u64) -> Result<Restored<T>> {
        self.restore_with(seq, &())
    }

    /// [`restore`](Self::restore) for a type whose derived fields need a
    /// context.
    ///
    /// # Errors
    ///
    /// As [`restore`](Self::restore).
    pub fn restore_with<T: Checkpoint>(
        &self,
        seq: u64,
        context: &T::Context,
    ) -> Result<Restored<T>> {
        let span = observe::restore_span(T::SCHEMA.name, seq);
        observe::observe(Op::Restore, span, || {
            self.load(seq, &keys::checkpoint(seq), context)
        })
    }

    fn load<T: Checkpoint>(
        &self,
        seq: u64,
        key: &str,
        context: &T::Context,
    ) -> Result<Restored<T>> {
        let Some(value) = self.store.get_reader(key)? else {
            return Err(Error::NotFound {
                seq,
                location: self.store.location(key),
            });
        };
        self.load_value(seq, key, value, context)
    }

    /// Restores checkpoint `seq`, stored under `key`, from `value`, read
    /// from the store.
    pub(crate) fn load_value<T: Checkpoint>(
        &self,
        seq: u64,
        key: &str,
        value: ValueReader,
        context: &T::Context,
    ) -> Result<Restored<T>> {
        let location = self.store.location(key);
        let (size, (state, header)) =
            incremental::checkpoint_value(&self.store, value, seq, &location)
                .and_then(|value| {
                    let size = value.len();
                    Ok((size, load_value::<T>(value, seq, &location, context)?))
                })
                .map_err(|e| {
                    self.heal.note(&e);
                    incremental::damage_in(e, seq, &location)
                })?;
        Ok(Restored {
            state,
            meta: Meta {
                seq,
                time: header.time,
                size,
                type_name: header.type_name,
                key: key.to_owned(),
                location,
                skipped: Vec::new(),
            },
        })
    }
}
