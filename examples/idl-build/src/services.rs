//! The example's implementations of the generated services.

use tonic::{Request, Response, Status};

use crate::echo::{SayReply, SayRequest, echo_server::Echo};
#[cfg(not(no_thrift_compiler))]
use crate::points::{MirrorSyncHandler, Point};

/// `echo.Echo`: says the text back, `times` times (at most
/// [`EchoService::MAX_TIMES`]).
#[derive(Debug, Default)]
pub struct EchoService;

impl EchoService {
    /// The most times a text is said back: a caller's number is not
    /// allowed to size the reply unbounded.
    pub const MAX_TIMES: u32 = 100;
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn say(&self, request: Request<SayRequest>) -> Result<Response<SayReply>, Status> {
        let SayRequest { text, times } = request.into_inner();
        if times > Self::MAX_TIMES {
            return Err(Status::invalid_argument(format!(
                "times is {times}, more than {}",
                Self::MAX_TIMES
            )));
        }
        let words = vec![text; times as usize];
        Ok(Response::new(SayReply {
            text: words.join(" "),
        }))
    }
}

/// `points.Mirror`: mirrors points across the y axis.
#[cfg(not(no_thrift_compiler))]
#[derive(Debug, Default)]
pub struct MirrorHandler;

#[cfg(not(no_thrift_compiler))]
impl MirrorSyncHandler for MirrorHandler {
    fn handle_mirror(&self, point: Point) -> thrift::Result<Point> {
        Ok(Point {
            x: -point.x,
            ..point
        })
    }
}
