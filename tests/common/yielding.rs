//! An in-memory object store whose operations yield to the executor, to
//! drop the futures awaiting it at each of its await points.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

/// An in-memory object store that yields to the executor before each
/// operation, so that a future awaiting it can be dropped there, and notes
/// the threads its operations run on.
#[derive(Debug, Default)]
pub struct Yielding {
    pub inner: object_store::memory::InMemory,
    pub threads: Arc<Mutex<HashSet<ThreadId>>>,
}

impl Yielding {
    async fn step(&self) {
        note_thread(&self.threads);
        tokio::task::yield_now().await;
    }
}

impl std::fmt::Display for Yielding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Yielding")
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for Yielding {
    async fn put_opts(
        &self,
        location: &object_store::path::Path,
        payload: object_store::PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        self.step().await;
        let put = self.inner.put_opts(location, payload, opts).await;
        // Written, not yet answered: a drop here leaves a whole object.
        self.step().await;
        put
    }

    async fn put_multipart_opts(
        &self,
        location: &object_store::path::Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.step().await;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures_util::stream::BoxStream<
            'static,
            object_store::Result<object_store::path::Path>,
        >,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<object_store::path::Path>>
    {
        use futures_util::StreamExt;
        note_thread(&self.threads);
        let deleted = self.inner.delete_stream(locations);
        futures_util::stream::once(tokio::task::yield_now())
            .filter_map(|()| std::future::ready(None))
            .chain(deleted)
            .boxed()
    }

    fn list(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>
    {
        use futures_util::StreamExt;
        let threads = Arc::clone(&self.threads);
        let listed = self.inner.list(prefix);
        futures_util::stream::once(async move {
            note_thread(&threads);
            tokio::task::yield_now().await;
        })
        .filter_map(|()| std::future::ready(None))
        .chain(listed)
        .boxed()
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.step().await;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &object_store::path::Path,
        to: &object_store::path::Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn note_thread(threads: &Mutex<HashSet<ThreadId>>) {
    threads.lock().unwrap().insert(std::thread::current().id());
}
