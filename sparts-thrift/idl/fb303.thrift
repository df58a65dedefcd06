/**
 * fb303: the admin interface every sparts-rs service speaks over Thrift.
 *
 * Written for sparts-rs from the list of calls Facebook's fb303 defines;
 * sparts-core's admin model answers every one of them.
 */

namespace py sparts.fb303
namespace rs fb303

/** The health of a service, numbered as fb303 numbers it. */
enum fb_status {
  DEAD = 0,
  STARTING = 1,
  ALIVE = 2,
  STOPPING = 3,
  STOPPED = 4,
  WARNING = 5,
}

/** The admin calls of a service. */
service FacebookService {
  /** The service's name. */
  string getName(),

  /** The service's version, empty when it has none. */
  string getVersion(),

  /** The service's health. */
  fb_status getStatus(),

  /** Why the status is what it is, one reason per line. */
  string getStatusDetails(),

  /** Every counter with an integer value. */
  map<string, i64> getCounters(),

  /** One counter; an unknown name is an application exception. */
  i64 getCounter(1: string key),

  /** Sets an option at run time; refused for peers outside --admin-trusted. */
  void setOption(1: string key, 2: string value),

  /** One option's value ("" when unset); an unknown name is an application exception. */
  string getOption(1: string key),

  /** Every option with its value. */
  map<string, string> getOptions(),

  /** A CPU profile of the process over that many seconds (1 to 300), as folded stacks: one "thread;outer;...;inner COUNT" line per stack. */
  string getCpuProfile(1: i32 profileDurationInSec),

  /** Unix time the service started. */
  i64 aliveSince(),

  /** Restarts the service in process; refused (and logged) for untrusted peers. */
  oneway void reinitialize(),

  /** Shuts the service down; refused (and logged) for untrusted peers. */
  oneway void shutdown(),
}
