//! `sparts.admin.v1.Admin`: the admin model of sparts-core over gRPC.

use sparts_core::{Admin, AdminErrorKind, Peer};
use tonic::{Code, Request, Response, Status};

use crate::pb::admin::Status as WireStatus;
use crate::pb::admin::admin_server;
use crate::pb::admin::*;

/// The admin service of the running service.
#[derive(Debug, Clone)]
pub(crate) struct AdminService {
    pub(crate) admin: Admin,
}

/// The peer of a request: its IP address on TCP, else a unix socket peer
/// (tonic knows no address for those).
fn peer<T>(request: &Request<T>) -> Peer {
    request
        .remote_addr()
        .map_or(Peer::Unix, |addr| Peer::Ip(addr.ip()))
}

/// The gRPC status for an error of the admin model: the code of its kind,
/// the error's text as the message.
fn status(error: sparts_core::Error) -> Status {
    Status::new(code(error.admin_kind()), error.to_string())
}

/// The gRPC code of each kind of admin error; the README's table of admin
/// errors lists it beside the other transports' codes.
fn code(kind: AdminErrorKind) -> Code {
    match kind {
        AdminErrorKind::NotFound => Code::NotFound,
        AdminErrorKind::InvalidArgument => Code::InvalidArgument,
        AdminErrorKind::FailedPrecondition => Code::FailedPrecondition,
        AdminErrorKind::PermissionDenied => Code::PermissionDenied,
        AdminErrorKind::Unavailable => Code::Unavailable,
        AdminErrorKind::Internal => Code::Internal,
        // The enum is non-exhaustive: a kind core adds later is INTERNAL
        // until it has its own line here.
        _ => Code::Internal,
    }
}

fn wire_status(status: sparts_core::Status) -> WireStatus {
    use sparts_core::Status as S;
    match status {
        S::Dead => WireStatus::Dead,
        S::Starting => WireStatus::Starting,
        S::Alive => WireStatus::Alive,
        S::Stopping => WireStatus::Stopping,
        S::Stopped => WireStatus::Stopped,
        S::Warning => WireStatus::Warning,
    }
}

type Reply<T> = Result<Response<T>, tonic::Status>;

#[tonic::async_trait]
impl admin_server::Admin for AdminService {
    async fn get_status(&self, _: Request<GetStatusRequest>) -> Reply<GetStatusResponse> {
        let status = self.admin.status();
        Ok(Response::new(GetStatusResponse {
            status: wire_status(status).into(),
            name: status.as_str().to_owned(),
            details: self.admin.status_details(),
        }))
    }

    async fn get_counters(&self, req: Request<GetCountersRequest>) -> Reply<GetCountersResponse> {
        let snapshot = match &req.get_ref().filter {
            Some(pattern) => self.admin.counters_matching(pattern).map_err(status)?,
            None => self.admin.counters(),
        };
        Ok(Response::new(GetCountersResponse {
            counters: snapshot.into_iter().map(|c| (c.name, c.value)).collect(),
        }))
    }

    async fn get_counter(&self, req: Request<GetCounterRequest>) -> Reply<GetCounterResponse> {
        let value = self.admin.counter(&req.get_ref().name).map_err(status)?;
        Ok(Response::new(GetCounterResponse { value }))
    }

    async fn get_option(&self, req: Request<GetOptionRequest>) -> Reply<GetOptionResponse> {
        let value = self.admin.option(&req.get_ref().name).map_err(status)?;
        Ok(Response::new(GetOptionResponse { value }))
    }

    async fn set_option(&self, req: Request<SetOptionRequest>) -> Reply<SetOptionResponse> {
        let peer = peer(&req);
        let SetOptionRequest { name, value } = req.into_inner();
        self.admin
            .set_option(&peer, &name, &value)
            .map_err(status)?;
        Ok(Response::new(SetOptionResponse {}))
    }

    async fn list_options(&self, _: Request<ListOptionsRequest>) -> Reply<ListOptionsResponse> {
        let mut reply = ListOptionsResponse::default();
        for (name, value) in self.admin.options() {
            match value {
                Some(value) => {
                    reply.options.insert(name, value);
                }
                None => reply.unset.push(name),
            }
        }
        reply.sources = self
            .admin
            .option_sources()
            .into_iter()
            .map(|(name, source)| (name, source.as_str().to_owned()))
            .collect();
        Ok(Response::new(reply))
    }

    async fn get_exported_values(
        &self,
        _: Request<GetExportedValuesRequest>,
    ) -> Reply<GetExportedValuesResponse> {
        Ok(Response::new(GetExportedValuesResponse {
            values: self.admin.exported_values().into_iter().collect(),
        }))
    }

    async fn alive_since(&self, _: Request<AliveSinceRequest>) -> Reply<AliveSinceResponse> {
        Ok(Response::new(AliveSinceResponse {
            seconds: self.admin.alive_since(),
        }))
    }

    async fn reinitialize(&self, req: Request<ReinitializeRequest>) -> Reply<ReinitializeResponse> {
        self.admin.reinitialize(&peer(&req)).map_err(status)?;
        Ok(Response::new(ReinitializeResponse {}))
    }

    async fn shutdown(&self, req: Request<ShutdownRequest>) -> Reply<ShutdownResponse> {
        self.admin.shutdown(&peer(&req)).map_err(status)?;
        Ok(Response::new(ShutdownResponse {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gRPC column of the README's table of admin errors.
    #[test]
    fn every_kind_has_its_code() {
        let table = [
            (AdminErrorKind::NotFound, Code::NotFound),
            (AdminErrorKind::InvalidArgument, Code::InvalidArgument),
            (AdminErrorKind::FailedPrecondition, Code::FailedPrecondition),
            (AdminErrorKind::PermissionDenied, Code::PermissionDenied),
            (AdminErrorKind::Unavailable, Code::Unavailable),
            (AdminErrorKind::Internal, Code::Internal),
        ];
        for (kind, wire) in table {
            assert_eq!(code(kind), wire, "{kind}");
        }
    }
}
