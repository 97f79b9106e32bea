//! The run's keys on a user's key-value server (Redis, memcached): all under one
//! run-unique prefix that carries the run's start time and pid (see [`crate::ownership`]),
//! each written with an expiry by the caller, and every key handed out deleted by name
//! when the set is dropped (after an error or Ctrl-C too): no scan over the user's
//! keyspace.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::marker::PhantomData;

/// How a server deletes the run's keys by name, best effort.
pub trait DeleteKeys {
    /// Where the server is (a typed target, parsed once).
    type Url: Clone;
    /// Deletes `keys` on the server at `url`; errors are ignored (the keys expire).
    fn delete(url: &Self::Url, keys: Vec<String>);
}

/// The run's keys on one server of kind `S`.
pub struct RunKeys<S: DeleteKeys> {
    url: S::Url,
    prefix: String,
    handed_out: RefCell<BTreeSet<String>>,
    server: PhantomData<S>,
}

impl<S: DeleteKeys> RunKeys<S> {
    /// A fresh run prefix on the server at `url`.
    pub fn new(url: &S::Url) -> RunKeys<S> {
        RunKeys {
            url: url.clone(),
            prefix: crate::ownership::redis_prefix(),
            handed_out: RefCell::default(),
            server: PhantomData,
        }
    }

    /// The full name of the run's key `name` (the caller writes it with an expiry).
    pub fn key(&self, name: &str) -> String {
        let key = format!("{}{name}", self.prefix);
        self.handed_out.borrow_mut().insert(key.clone());
        key
    }
}

impl<S: DeleteKeys> Drop for RunKeys<S> {
    fn drop(&mut self) {
        let keys = std::mem::take(self.handed_out.get_mut());
        if !keys.is_empty() {
            S::delete(&self.url, keys.into_iter().collect());
        }
    }
}
