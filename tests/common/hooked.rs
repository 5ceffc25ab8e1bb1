//! [`Hooked`]: an in-memory object store (plain and multipart operations)
//! that asks its [`Hooks`] before reads, part uploads and completions, so
//! a test can count them or make them fail.

/// What a test changes about a [`Hooked`] store. Each hook runs before
/// the operation; an error returned is the operation's.
pub trait Hooks: Send + Sync + std::fmt::Debug + 'static {
    /// Before a read (not a `head`).
    fn get(&self, options: &object_store::GetOptions) -> object_store::Result<()> {
        let _ = options;
        Ok(())
    }
    /// Before part `index` of a multipart upload is stored.
    fn put_part(&self, index: usize) -> object_store::Result<()> {
        let _ = index;
        Ok(())
    }
    /// Before a multipart upload completes.
    fn complete(&self) -> object_store::Result<()> {
        Ok(())
    }
    /// When a multipart upload is aborted.
    fn aborted(&self) {}
}

/// An error as a backend would report a dropped connection.
pub fn connection_reset(what: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "Hooked",
        source: format!("{what}: connection reset by peer").into(),
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Hooked<H> {
    pub inner: object_store::memory::InMemory,
    pub hooks: H,
}

impl<H> std::fmt::Display for Hooked<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hooked")
    }
}

type Path = object_store::path::Path;

#[async_trait::async_trait]
impl<H: Hooks> object_store::ObjectStore for Hooked<H> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: object_store::PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        if !options.head {
            self.hooks.get(&options)?;
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures_util::stream::BoxStream<'static, object_store::Result<Path>>,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>
    {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[async_trait::async_trait]
impl<H: Hooks> object_store::multipart::MultipartStore for Hooked<H> {
    async fn create_multipart(
        &self,
        path: &Path,
    ) -> object_store::Result<object_store::MultipartId> {
        self.inner.create_multipart(path).await
    }

    async fn put_part(
        &self,
        path: &Path,
        id: &object_store::MultipartId,
        part_idx: usize,
        data: object_store::PutPayload,
    ) -> object_store::Result<object_store::multipart::PartId> {
        self.hooks.put_part(part_idx)?;
        self.inner.put_part(path, id, part_idx, data).await
    }

    async fn complete_multipart(
        &self,
        path: &Path,
        id: &object_store::MultipartId,
        parts: Vec<object_store::multipart::PartId>,
    ) -> object_store::Result<object_store::PutResult> {
        self.hooks.complete()?;
        self.inner.complete_multipart(path, id, parts).await
    }

    async fn abort_multipart(
        &self,
        path: &Path,
        id: &object_store::MultipartId,
    ) -> object_store::Result<()> {
        self.hooks.aborted();
        self.inner.abort_multipart(path, id).await
    }
}
