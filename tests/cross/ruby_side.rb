# The Ruby end of the cross-language test (tests/cross/run.sh):
#   ruby ruby_side.rb ID MAC
# verifies the request C signed (POST /cross {"n":1}) through the shared Redis, checks
# the value C wrote, and writes from_ruby.
require "toto_session"

id, mac = ARGV
abort "usage: ruby_side.rb ID MAC" unless id && mac
manager = TotoSession::Manager.new(cache: TotoSession::Cache.redis(ENV.fetch("TOTO_REDIS_URL")))
manager.verify_request(id, mac, "POST", "/cross", '{"n":1}') do |session|
  abort "ruby_side: from_c is #{session[:from_c].inspect}" unless session[:from_c] == 1
  abort "ruby_side: user is #{session.user_id.inspect}" unless session.user_id == "cross"
  session[:from_ruby] = "hello from Ruby"
end
begin
  manager.verify_request(id, mac, "POST", "/cross", '{"n":2}')
  abort "ruby_side: a tampered body was accepted"
rescue TotoSession::InvalidHMAC
end
puts "ruby_side: verified and wrote from_ruby"
