/**
 * The Thrift half of the sparts-build example.
 */

namespace rs points

/** A point on a plane, maybe named. */
struct Point {
  1: required i32 x,
  2: required i32 y,
  3: optional string label,
}

/** Mirrors points. */
service Mirror {
  /** The point mirrored across the y axis. */
  Point mirror(1: Point point),
}
