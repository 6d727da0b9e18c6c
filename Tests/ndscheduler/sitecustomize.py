# ndscheduler 0.3.0 pins tornado 4.3, SQLAlchemy 1.0 and APScheduler 3.0 (Python 3.6 era); on Python 3.11 they
# need the aliases those releases relied on.
import collections, collections.abc, inspect
for _name in ("MutableMapping", "Mapping", "MutableSet", "Sequence", "Callable", "Iterable", "Hashable", "MutableSequence"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))
if not hasattr(inspect, "getargspec"):
    from collections import namedtuple
    _ArgSpec = namedtuple("ArgSpec", "args varargs keywords defaults")
    def getargspec(func):
        spec = inspect.getfullargspec(func)
        return _ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)
    inspect.getargspec = getargspec
if not hasattr(inspect, "formatargspec"):
    def formatargspec(args, varargs=None, varkw=None, defaults=None, kwonlyargs=(), kwonlydefaults={}, annotations={},
                      formatarg=str, formatvarargs=lambda name: '*' + name, formatvarkw=lambda name: '**' + name,
                      formatvalue=lambda value: '=' + repr(value), formatreturns=lambda text: ' -> ' + text,
                      formatannotation=None):
        specs = []
        firstdefault = len(args) - len(defaults) if defaults else None
        for i, arg in enumerate(args):
            spec = formatarg(arg)
            if defaults and i >= firstdefault:
                spec = spec + formatvalue(defaults[i - firstdefault])
            specs.append(spec)
        if varargs is not None:
            specs.append(formatvarargs(varargs))
        elif kwonlyargs:
            specs.append('*')
        for kwonlyarg in kwonlyargs or ():
            spec = formatarg(kwonlyarg)
            if kwonlydefaults and kwonlyarg in kwonlydefaults:
                spec += formatvalue(kwonlydefaults[kwonlyarg])
            specs.append(spec)
        if varkw is not None:
            specs.append(formatvarkw(varkw))
        return '(' + ', '.join(specs) + ')'
    inspect.formatargspec = formatargspec
