//! Plan rate limits.
