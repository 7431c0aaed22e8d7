//! The upstream's response body on its way to the client: it fails when the upstream sends
//! nothing for a while (a stream that keeps moving may last as long as it likes, one that
//! stalls is cut), and when it has been read to the end its connection goes back to the pool.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::pool::Lease;
use crate::ratelimit::Permit;

#[derive(Debug)]
pub struct ResponseBody {
    inner: Incoming,
    idle: Duration,
    /// Armed only when the upstream makes the client wait: a body whose chunks are all ready
    /// when asked for (most responses) never touches the timer wheel, nor reads the clock.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Whether the upstream has kept the body waiting since the last chunk (the deadline is
    /// set for this silence).
    waiting: bool,
    /// The connection, until the body has ended.
    lease: Option<Lease>,
    /// The request's concurrent task, given back when the body is dropped.
    _permit: Option<Permit>,
    ended: bool,
}

impl ResponseBody {
    /// `lease`: the connection, to give back once the body has ended; None when it must not
    /// be reused. `permit`: held as long as the body.
    pub(super) fn new(
        inner: Incoming,
        idle: Duration,
        lease: Option<Lease>,
        permit: Option<Permit>,
    ) -> Self {
        Self {
            inner,
            idle,
            deadline: None,
            waiting: false,
            lease,
            _permit: permit,
            ended: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the upstream sent nothing for {0:?}")]
    Idle(Duration),
    #[error(transparent)]
    Upstream(#[from] hyper::Error),
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                this.ended = frame.is_none();
                Poll::Ready(frame.map(|f| f.map_err(BodyError::from)))
            }
            Poll::Pending => {
                // The silence is counted from when the body is first kept waiting, not from
                // when the last chunk was handed on: a client slow to take chunks is not an
                // upstream that stalls.
                let deadline = match (&mut this.deadline, this.waiting) {
                    (Some(deadline), true) => deadline,
                    (slot, _) => {
                        this.waiting = true;
                        let due = Instant::now() + this.idle;
                        match slot {
                            Some(deadline) => {
                                deadline.as_mut().reset(due);
                                deadline
                            }
                            None => slot.insert(Box::pin(tokio::time::sleep_until(due))),
                        }
                    }
                };
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::Idle(this.idle)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // Read to the end: the connection is free for the next exchange. Dropped before (the
        // client went away mid-stream, or the idle timeout cut it): closed with the lease.
        if (self.ended || self.inner.is_end_stream())
            && let Some(lease) = self.lease.take()
        {
            lease.release();
        }
    }
}
