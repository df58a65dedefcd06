/**
 * The services of the thrift_multiplexed example, as in the original
 * sparts demo: two services behind one multiplexed port.
 */

namespace py sparts_examples.foobar
namespace rs foobar

/** Makes foos. */
service FooService {
  /** "foo" repeated numfoos times. */
  string makeFoos(1: i16 numfoos),
}

/** Makes bars. */
service BarService {
  /** "bar" repeated numbars times. */
  string makeBars(1: i16 numbars),
}
