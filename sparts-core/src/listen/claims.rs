//! Which server task takes which socket passed by systemd, in one
//! generation of a service's tasks: the sockets named after a task's
//! prefix, or the unnamed ones for the one server task that has none; and
//! at the end, whether every socket found a task.

use crate::error::{Error, Result};
use crate::listen::activation::InheritedSocket;

/// The takers of the inherited sockets in the current generation.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    /// For each inherited socket (in fd order), the prefix of the server
    /// task that took it.
    takers: Vec<Option<String>>,
    /// The prefixes of the server tasks that bound, in order.
    servers: Vec<String>,
}

impl Claims {
    /// Forgets the last generation's takers: a new one is starting.
    pub(crate) fn begin(&mut self, sockets: &[InheritedSocket]) {
        self.takers = vec![None; sockets.len()];
        self.servers.clear();
    }

    /// The sockets the server task with `prefix` listens on instead of
    /// binding: those named `prefix`, or else the unnamed ones, unless
    /// another server task without a named socket took them already (then
    /// which task they are for is ambiguous). Empty: the task binds as its
    /// options say.
    pub(crate) fn take<'s>(
        &mut self,
        sockets: &'s [InheritedSocket],
        prefix: &str,
    ) -> Result<Vec<&'s InheritedSocket>> {
        self.takers.resize(sockets.len(), None);
        if !self.servers.iter().any(|p| p == prefix) {
            self.servers.push(prefix.to_owned());
        }
        let named: Vec<usize> = (0..sockets.len())
            .filter(|&i| sockets[i].name.as_deref() == Some(prefix))
            .collect();
        let mine = if named.is_empty() {
            let unnamed: Vec<usize> = (0..sockets.len())
                .filter(|&i| sockets[i].name.is_none())
                .collect();
            let other = unnamed
                .iter()
                .find_map(|&i| self.takers[i].as_deref().filter(|t| *t != prefix));
            if let (Some(other), Some(&first)) = (other, unnamed.first()) {
                return Err(Error::AmbiguousSocket {
                    fd: sockets[first].fd,
                    first: other.to_owned(),
                    second: prefix.to_owned(),
                });
            }
            unnamed
        } else {
            named
        };
        for &i in &mine {
            self.takers[i] = Some(prefix.to_owned());
        }
        Ok(mine.into_iter().map(|i| &sockets[i]).collect())
    }

    /// Checks, once every task's `init` ran, that every inherited socket
    /// was taken: one that was not names a task this service does not
    /// have (or did not start), a mistake to report rather than a port
    /// nobody answers on.
    pub(crate) fn finish(&self, sockets: &[InheritedSocket]) -> Result<()> {
        let untaken = sockets
            .iter()
            .enumerate()
            .find(|(i, _)| self.takers.get(*i).is_none_or(Option::is_none));
        match untaken {
            None => Ok(()),
            Some((_, socket)) => Err(Error::UntakenSocket {
                fd: socket.fd,
                name: socket.name.clone(),
                prefixes: if self.servers.is_empty() {
                    "none: no task of the service listens".to_owned()
                } else {
                    self.servers.join(", ")
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// Real listening sockets with these names.
    fn sockets(names: &[Option<&str>]) -> Vec<InheritedSocket> {
        names
            .iter()
            .zip(3..)
            .map(|(name, fd)| {
                let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
                InheritedSocket::new(fd, name.map(str::to_owned), listener.into())
                    .expect("a listening socket")
            })
            .collect()
    }

    fn fds(taken: &[&InheritedSocket]) -> Vec<i32> {
        taken.iter().map(|s| s.fd).collect()
    }

    #[test]
    fn a_task_takes_the_sockets_named_after_its_prefix() -> Result<()> {
        let sockets = sockets(&[Some("http"), Some("grpc"), Some("http")]);
        let mut claims = Claims::default();
        claims.begin(&sockets);
        assert_eq!(fds(&claims.take(&sockets, "http")?), [3, 5]);
        assert_eq!(fds(&claims.take(&sockets, "thrift")?), [] as [i32; 0]);
        assert!(claims.finish(&sockets).is_err(), "grpc's is left");
        assert_eq!(fds(&claims.take(&sockets, "grpc")?), [4]);
        claims.finish(&sockets)
    }

    #[test]
    fn an_unnamed_socket_goes_to_one_server_task_only() -> Result<()> {
        let sockets = sockets(&[None]);
        let mut claims = Claims::default();
        claims.begin(&sockets);
        assert_eq!(fds(&claims.take(&sockets, "http")?), [3]);
        let e = claims.take(&sockets, "grpc").expect_err("ambiguous");
        let text = e.to_string();
        assert!(
            text.contains("fd 3") && text.contains("--fdname="),
            "{text}"
        );
        // The next generation starts afresh.
        claims.begin(&sockets);
        assert_eq!(fds(&claims.take(&sockets, "grpc")?), [3]);
        claims.finish(&sockets)
    }

    #[test]
    fn a_socket_no_task_took_is_named_with_the_prefixes() -> Result<()> {
        let sockets = sockets(&[Some("nope")]);
        let mut claims = Claims::default();
        claims.begin(&sockets);
        assert!(claims.take(&sockets, "http")?.is_empty());
        assert!(claims.take(&sockets, "thrift")?.is_empty());
        let text = claims.finish(&sockets).expect_err("untaken").to_string();
        assert!(text.contains("fd 3 (named `nope`)"), "{text}");
        assert!(text.contains("http, thrift"), "{text}");
        Ok(())
    }
}
